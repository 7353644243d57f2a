package health

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// fxSince is when the watched rollout started: events before it are history.
var fxSince = fxNow.Add(-2 * time.Minute)

// fxInProgress makes d's status an unfinished rollout: one of its replicas updated, one old
// replica still running.
func fxInProgress(d *appsv1.Deployment) *appsv1.Deployment {
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: n + 1, UpdatedReplicas: 1,
		ReadyReplicas: n, AvailableReplicas: n, UnavailableReplicas: 1,
	}
	return d
}

func fxWaiting(p *corev1.Pod, reason, msg string) *corev1.Pod {
	p.Status.Phase = corev1.PodPending
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
	}}
	return p
}

// fxNotReadyFor makes p a running pod whose container has run, unready, for d.
func fxNotReadyFor(p *corev1.Pod, d time.Duration) *corev1.Pod {
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}},
		PeriodSeconds: 10, FailureThreshold: 3,
	}
	started := metav1.NewTime(fxNow.Add(-d))
	p.Status.StartTime = &started
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "app", Ready: false, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
	}}
	return p
}

func fxEvent(kind, name, reason, msg string, at time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name + ".1", Namespace: fxNamespace, CreationTimestamp: metav1.NewTime(at)},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: fxNamespace},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: msg,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at), Count: 1,
	}
}

const quotaMsg = `pods "web-new5d-zz" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=4, limited: cpu=4`

func TestEvaluate(t *testing.T) {
	// A fresh rollout of web (2 replicas) from revision 1 (hash old7c) to 2 (hash new5d).
	type world struct {
		web          *appsv1.Deployment
		newRS, oldRS *appsv1.ReplicaSet
		api          *appsv1.Deployment
		apiRS        *appsv1.ReplicaSet
	}
	mk := func() world {
		web := fxDeployment("web", 2, "2")
		api := fxDeployment("api", 1, "4")
		return world{web: web, newRS: fxReplicaSet(web, "2", fxNewHash), oldRS: fxReplicaSet(web, "1", fxOldHash),
			api: api, apiRS: fxReplicaSet(api, "4", "api44")}
	}
	newLabels := labels.Set{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: fxNewHash}
	oldLabels := labels.Set{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: fxOldHash}

	tests := []struct {
		name  string
		deps  []string // Target.Deployments; default web
		build func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event)
		final bool

		wantReady    bool
		wantCategory diagnose.Category // "" for no signal
		wantObject   string
		wantReason   string
		wantDep      string // Result.Workload when a signal is expected
		wantStatus   string // in Result.Status
	}{
		{
			name: "complete deployment is ready",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{w.web}, []*corev1.Pod{fxPod(w.newRS, "a"), fxPod(w.newRS, "b")}, nil
			},
			wantReady: true, wantStatus: "web: 2/2 updated, 2 ready, 2 available, 2 total",
		},
		{
			name: "rollout in progress, nothing wrong yet",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.newRS, "a"), fxPod(w.oldRS, "x"), fxPod(w.oldRS, "y")}, nil
			},
			wantReady: false, wantStatus: "web: 1/2 updated",
		},
		{
			name: "new pod in ImagePullBackOff",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				bad := fxWaiting(fxPod(w.newRS, "a"), "ImagePullBackOff", `Back-off pulling image "example.com/web:nope"`)
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.oldRS, "x"), fxPod(w.oldRS, "y"), bad}, nil
			},
			wantCategory: diagnose.ImagePull, wantObject: "Pod/web-new5d-a", wantReason: "ImagePullBackOff", wantDep: "Deployment/web",
		},
		{
			name: "the same failure on an old replica set's pod is ignored",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				bad := fxWaiting(fxPod(w.oldRS, "x"), "ImagePullBackOff", `Back-off pulling image "example.com/web:old"`)
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.newRS, "a"), bad}, nil
			},
			wantReady: false,
		},
		{
			name: "failing new pod that is being deleted is ignored",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				bad := fxWaiting(fxPod(w.newRS, "a"), "CrashLoopBackOff", "back-off restarting")
				bad.DeletionTimestamp = ptr.To(metav1.NewTime(fxNow))
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{bad}, nil
			},
			wantReady: false,
		},
		{
			name: "pull failure event on a new pod",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				p := fxPod(w.newRS, "a")
				p.Status = corev1.PodStatus{Phase: corev1.PodPending}
				ev := fxEvent("Pod", p.Name, "Failed", `Failed to pull image "example.com/web:nope": not found`, fxNow.Add(-time.Second))
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{p}, []*corev1.Event{ev}
			},
			wantCategory: diagnose.ImagePull, wantObject: "Pod/web-new5d-a", wantReason: "Failed", wantDep: "Deployment/web",
		},
		{
			name: "quota FailedCreate on the new replica set after Since",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				ev := fxEvent("ReplicaSet", w.newRS.Name, "FailedCreate", quotaMsg, fxSince.Add(10*time.Second))
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.oldRS, "x")}, []*corev1.Event{ev}
			},
			wantCategory: diagnose.Capacity, wantObject: "ReplicaSet/web-new5d", wantReason: "FailedCreate", wantDep: "Deployment/web",
		},
		{
			name: "the same event from before Since is history",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				ev := fxEvent("ReplicaSet", w.newRS.Name, "FailedCreate", quotaMsg, fxSince.Add(-10*time.Second))
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.oldRS, "x")}, []*corev1.Event{ev}
			},
			wantReady: false,
		},
		{
			name: "the same event on the old replica set is ignored",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				ev := fxEvent("ReplicaSet", w.oldRS.Name, "FailedCreate", quotaMsg, fxSince.Add(10*time.Second))
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.oldRS, "x")}, []*corev1.Event{ev}
			},
			wantReady: false,
		},
		{
			name: "deployment not yet observed: no readiness, no signal",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				d := w.web // status says complete, but for the previous generation
				d.Generation = 3
				d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing,
					Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "old rollout timed out"}}
				bad := fxWaiting(fxPod(w.newRS, "a"), "ImagePullBackOff", "from the previous rollout")
				return []*appsv1.Deployment{d}, []*corev1.Pod{bad}, nil
			},
			wantReady: false, wantStatus: "web: waiting for the deployment controller",
		},
		{
			name: "deployment not found yet",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return nil, nil, nil
			},
			wantReady: false, wantStatus: "web: not found yet",
		},
		{
			name: "progress deadline exceeded",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				d := fxInProgress(w.web)
				d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing,
					Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-new5d" has timed out progressing.`}}
				return []*appsv1.Deployment{d}, []*corev1.Pod{fxPod(w.newRS, "a")}, nil
			},
			wantCategory: diagnose.Deadline, wantObject: "Deployment/web", wantReason: "ProgressDeadlineExceeded", wantDep: "Deployment/web",
		},
		{
			name: "running but not ready for 1s, within budget",
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxNotReadyFor(fxPod(w.newRS, "a"), time.Second), fxPod(w.oldRS, "x")}, nil
			},
			wantReady: false,
		},
		{
			name:  "final evaluation waives the budgets: not ready for 1s is a probe failure",
			final: true,
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxNotReadyFor(fxPod(w.newRS, "a"), time.Second), fxPod(w.oldRS, "x")}, nil
			},
			wantCategory: diagnose.Probe, wantObject: "Pod/web-new5d-a", wantReason: "Unhealthy", wantDep: "Deployment/web",
		},
		{
			name:  "final evaluation of a healthy rollout finds nothing",
			final: true,
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.newRS, "a"), fxPod(w.oldRS, "x")}, nil
			},
			wantReady: false,
		},
		{
			name: "two deployments: the failing one is named even when it sorts last",
			deps: []string{"web", "api"},
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				bad := fxWaiting(fxPod(w.newRS, "a"), "ErrImagePull", "manifest unknown")
				return []*appsv1.Deployment{w.api, fxInProgress(w.web)}, []*corev1.Pod{fxPod(w.apiRS, "q"), bad}, nil
			},
			wantCategory: diagnose.ImagePull, wantObject: "Pod/web-new5d-a", wantReason: "ErrImagePull", wantDep: "Deployment/web",
		},
		{
			name: "two complete deployments are ready",
			deps: []string{"web", "api"},
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{w.api, w.web}, []*corev1.Pod{fxPod(w.apiRS, "q"), fxPod(w.newRS, "a"), fxPod(w.newRS, "b")}, nil
			},
			wantReady: true, wantStatus: "api: 1/1 updated, 1 ready, 1 available, 1 total; web: 2/2 updated",
		},
		{
			name: "one of two deployments not complete",
			deps: []string{"web", "api"},
			build: func(w world) ([]*appsv1.Deployment, []*corev1.Pod, []*corev1.Event) {
				return []*appsv1.Deployment{fxInProgress(w.api), w.web}, []*corev1.Pod{fxPod(w.apiRS, "q"), fxPod(w.newRS, "a"), fxPod(w.newRS, "b")}, nil
			},
			wantReady: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mk()
			deps, pods, events := tt.build(w)
			names := tt.deps
			if names == nil {
				names = []string{"web"}
			}
			s := &snapshot{
				t:       Target{Namespace: fxNamespace, Deployments: names, Since: fxSince},
				budgets: diagnose.DefaultBudgets(),
				deps:    map[string]*appsv1.Deployment{},
				rss:     []*appsv1.ReplicaSet{w.oldRS, w.newRS, w.apiRS},
				pods:    pods,
				events:  events,
			}
			for _, d := range deps {
				s.deps[d.Name] = d
			}
			r := s.evaluate(fxNow, tt.final)

			if r.Ready != tt.wantReady {
				t.Errorf("Ready = %v, want %v (status %q, signals %+v)", r.Ready, tt.wantReady, r.Status, r.Signals)
			}
			if !strings.Contains(r.Status, tt.wantStatus) {
				t.Errorf("Status = %q, want it to contain %q", r.Status, tt.wantStatus)
			}
			if tt.wantCategory == "" {
				if len(r.Signals) != 0 {
					t.Errorf("Signals = %+v, want none", r.Signals)
				}
				return
			}
			if r.Ready {
				t.Error("Ready with a failure signal")
			}
			if len(r.Signals) == 0 {
				t.Fatalf("no signal, want %s", tt.wantCategory)
			}
			first := r.Signals[0]
			if first.Category != tt.wantCategory || first.Object != tt.wantObject || first.Reason != tt.wantReason {
				t.Errorf("first signal = %+v, want category %s, object %s, reason %s", first, tt.wantCategory, tt.wantObject, tt.wantReason)
			}
			if r.Workload != tt.wantDep {
				t.Errorf("Workload = %q, want %q", r.Workload, tt.wantDep)
			}
			if r.Selector == nil {
				t.Fatal("Selector is nil")
			}
			if !r.Selector.Matches(newLabels) {
				t.Errorf("Selector %q does not select the new pods %v", r.Selector, newLabels)
			}
			if r.Selector.Matches(oldLabels) {
				t.Errorf("Selector %q selects the old pods %v too", r.Selector, oldLabels)
			}
		})
	}
}

// A cached Deployment older than the generation the API server had when the watch began (an
// informer's first list served from a watch cache behind the rollback's write) is not the
// rollout watched: the old ReplicaSet's fresh FailedCreate is no evidence against it, and it
// is not complete either; once the cache holds the new generation, it is judged.
func TestEvaluateIgnoresAStaleCachedDeployment(t *testing.T) {
	web := fxDeployment("web", 2, "2") // generation 2, revision 2: the failed version
	newRS := fxReplicaSet(web, "2", fxNewHash)
	quota := fxEvent("ReplicaSet", newRS.Name, "FailedCreate", "exceeded quota: pods", fxNow)
	quota.FirstTimestamp = metav1.NewTime(fxSince.Add(-time.Hour))
	s := &snapshot{
		t:       Target{Namespace: fxNamespace, Deployments: []string{"web"}, Since: fxSince},
		budgets: diagnose.DefaultBudgets(),
		deps:    map[string]*appsv1.Deployment{"web": web},
		rss:     []*appsv1.ReplicaSet{newRS},
		events:  []*corev1.Event{quota},
		stale:   map[string]bool{KindDeployment + "/web": true}, // the API server has generation 3
	}
	r := s.evaluate(fxNow, false)
	if r.Ready || len(r.Signals) != 0 || !strings.Contains(r.Status, "catching up") {
		t.Fatalf("a stale cached Deployment: ready %v, signals %+v, status %q", r.Ready, r.Signals, r.Status)
	}
	s.stale = nil
	if r := s.evaluate(fxNow, false); len(r.Signals) == 0 {
		t.Fatalf("the same snapshot, current: no signal (status %q); the test proves nothing", r.Status)
	}
}
