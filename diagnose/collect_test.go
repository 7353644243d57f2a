package diagnose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// warning builds a Warning event about kind/name in namespace "ns", last seen d before now.
func warning(id, kind, name, reason, msg string, d time.Duration) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: id, Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "ns"},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: msg, Count: 1,
		FirstTimestamp: ago(d + time.Minute), LastTimestamp: ago(d),
	}
}

// logRequests returns the PodLogOptions of every GetLogs call the fake client saw.
func logRequests(c *fake.Clientset) []corev1.PodLogOptions {
	var out []corev1.PodLogOptions
	for _, a := range c.Actions() {
		if a.GetResource().Resource == "pods" && a.GetSubresource() == "log" {
			if g, ok := a.(k8stesting.GenericAction); ok {
				if o, ok := g.GetValue().(*corev1.PodLogOptions); ok {
					out = append(out, *o)
				}
			}
		}
	}
	return out
}

func int32p(v int32) *int32 { return &v }

// collectFixture is a namespace with one crash-looping, one image-pull, one healthy, one
// terminating and one unrelated pod, and events about them.
func collectFixture() []runtime.Object {
	crash := newPod("web-crash", ready(false), started(time.Minute),
		containers(corev1.Container{Name: "app", Image: "web:crashloop"}),
		statuses(lastTerminated(waiting("app", "CrashLoopBackOff", "back-off 10s restarting failed container=app"), 1, "Error", 3)))
	pull := newPod("web-pull", phase(corev1.PodPending), ready(false),
		containers(corev1.Container{Name: "web", Image: "web:bad-image"}),
		statuses(waiting("web", "ImagePullBackOff", `Back-off pulling image "web:bad-image"`)))
	ok := newPod("web-ok", ready(true), statuses(running("app", time.Hour, true)))
	old := newPod("web-old", deleting(), ready(false), statuses(running("app", time.Hour, false)))
	other := newPod("other-1", ready(false), statuses(waiting("app", "CrashLoopBackOff", "x")))
	other.Labels = map[string]string{"app": "other"}
	elsewhere := newPod("web-x", ready(false), statuses(waiting("app", "CrashLoopBackOff", "x")))
	elsewhere.Namespace = "other-ns"

	normal := warning("e-normal", "Pod", "web-crash", "Pulled", "pulled", 0)
	normal.Type = corev1.EventTypeNormal
	series := warning("e-deploy", "Deployment", "web", "ProgressDeadlineExceeded", "timed out", time.Hour)
	series.LastTimestamp, series.FirstTimestamp, series.Count = metav1.Time{}, metav1.Time{}, 0
	series.EventTime = metav1.NewMicroTime(now.Add(-30 * time.Second))
	series.Series = &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(now.Add(-5 * time.Second))}
	otherNS := warning("e-other-ns", "Pod", "web-crash", "BackOff", "other namespace", 0)
	otherNS.Namespace = "other-ns"

	return []runtime.Object{crash, pull, ok, old, other, elsewhere,
		warning("e-pull", "Pod", "web-pull", "Failed", "Failed to pull image: not found (simulated by kwok)", 20*time.Second),
		warning("e-crash", "Pod", "web-crash", "BackOff", "Back-off restarting failed container", 10*time.Second),
		warning("e-rs", "ReplicaSet", "web-5d4f", "FailedCreate", "Error creating: pods | forbidden", 40*time.Second),
		warning("e-ok", "Pod", "web-ok", "Unhealthy", "old blip", 0),
		warning("e-other", "Pod", "other-1", "BackOff", "unrelated", 0),
		warning("e-svc", "Service", "web", "SyncLoadBalancerFailed", "unrelated kind", 0),
		normal, series, otherNS,
	}
}

func TestCollect(t *testing.T) {
	client := fake.NewClientset(collectFixture()...)
	signals := []Signal{
		{Category: ImagePull, Object: "Pod/web-pull", Reason: "ImagePullBackOff", Message: `Back-off pulling image "web:bad-image"`},
		{Category: Deadline, Object: "Deployment/web", Reason: "ProgressDeadlineExceeded", Message: "timed out"},
	}
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	got, err := Collector{Client: client}.Collect(context.Background(), "ns", sel, signals)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	want := Diagnosis{
		Category: ImagePull,
		Summary:  `Pod web-pull: ImagePullBackOff (Back-off pulling image "web:bad-image")`,
		// ImagePullBackOff alone gets the generic hint; the pod's Failed event says "not found".
		Hint:    hintImageNotFound,
		Signals: signals,
		Pods: []PodEvidence{
			{Name: "web-crash", Phase: "Running", Containers: []ContainerEvidence{{
				Name: "app", Image: "web:crashloop", State: "waiting", Reason: "CrashLoopBackOff",
				Message: "back-off 10s restarting failed container=app", ExitCode: int32p(1), Restarts: 3,
				LastTerminated: "exit 1 (Error)", PreviousLogs: []string{"fake logs"},
			}}},
			{Name: "web-pull", Phase: "Pending", Containers: []ContainerEvidence{{
				Name: "web", Image: "web:bad-image", State: "waiting", Reason: "ImagePullBackOff",
				Message: `Back-off pulling image "web:bad-image"`,
			}}},
		},
		Events: []EventEvidence{
			{Object: "Deployment/web", Type: "Warning", Reason: "ProgressDeadlineExceeded", Message: "timed out", Count: 4, LastSeen: at(5 * time.Second)},
			{Object: "Pod/web-crash", Type: "Warning", Reason: "BackOff", Message: "Back-off restarting failed container", Count: 1, LastSeen: at(10 * time.Second)},
			{Object: "Pod/web-pull", Type: "Warning", Reason: "Failed", Message: "Failed to pull image: not found (simulated by kwok)", Count: 1, LastSeen: at(20 * time.Second)},
			{Object: "ReplicaSet/web-5d4f", Type: "Warning", Reason: "FailedCreate", Message: "Error creating: pods | forbidden", Count: 1, LastSeen: at(40 * time.Second)},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("Collect() =\n%s\nwant\n%s", g, w)
	}

	logs := logRequests(client)
	if len(logs) != 1 {
		t.Fatalf("GetLogs called %d times (%+v), want once for the crash-looping container", len(logs), logs)
	}
	if l := logs[0]; l.Container != "app" || !l.Previous || l.TailLines == nil || *l.TailLines != 20 {
		t.Errorf("GetLogs options = %+v, want container app, previous, 20 tail lines", l)
	}
	for _, p := range got.Pods {
		for _, c := range p.Containers {
			if c.Reason == "ImagePullBackOff" && c.PreviousLogs != nil {
				t.Errorf("image-pull container %s/%s has previous logs %q", p.Name, c.Name, c.PreviousLogs)
			}
		}
	}
	if md := got.Markdown(); !strings.Contains(md, "fake logs") || !strings.Contains(md, `pods \| forbidden`) {
		t.Errorf("Markdown of the collected diagnosis lacks the logs or the escaped event:\n%s", md)
	}
}

func TestCollectPodSelection(t *testing.T) {
	failing := func(name string) *corev1.Pod {
		return newPod(name, ready(false), statuses(running("app", time.Hour, false)))
	}
	tests := []struct {
		name    string
		pods    []*corev1.Pod
		signals []Signal
		want    []string
	}{
		{name: "at most five, by name",
			pods: []*corev1.Pod{failing("web-6"), failing("web-2"), failing("web-0"), failing("web-4"), failing("web-1"), failing("web-5"), failing("web-3")},
			want: []string{"web-0", "web-1", "web-2", "web-3", "web-4"}},
		{name: "pods named by signals come first, then sorted",
			pods:    []*corev1.Pod{failing("web-0"), failing("web-1"), failing("web-2"), failing("web-3"), failing("web-4"), failing("web-9")},
			signals: []Signal{{Category: Probe, Object: "Pod/web-9"}},
			want:    []string{"web-0", "web-1", "web-2", "web-3", "web-9"}},
		{name: "a named pod is kept even when ready or terminating",
			pods: []*corev1.Pod{
				newPod("web-oom", ready(true), statuses(lastTerminated(running("app", time.Second, true), 137, "OOMKilled", 1))),
				newPod("web-gone", deleting(), statuses(waiting("app", "CrashLoopBackOff", ""))),
				newPod("web-ok", ready(true), statuses(running("app", time.Hour, true))),
			},
			signals: []Signal{{Category: CrashLoop, Object: "Pod/web-oom"}, {Category: CrashLoop, Object: "Pod/web-gone"}},
			want:    []string{"web-gone", "web-oom"}},
		{name: "ready pods with a waiting or terminated container are failing",
			pods: []*corev1.Pod{
				newPod("web-a", ready(true), statuses(running("app", time.Hour, true), waiting("side", "CrashLoopBackOff", ""))),
				newPod("web-b", ready(true), initStatuses(corev1.ContainerStatus{Name: "init", State: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}),
					statuses(running("app", time.Hour, true))),
				newPod("web-c", phase(corev1.PodSucceeded)),
			},
			want: []string{"web-a"}},
		{name: "no failing pods", pods: []*corev1.Pod{newPod("web-ok", ready(true), statuses(running("app", time.Hour, true)))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			d, err := Collector{Client: fake.NewClientset(objs...)}.Collect(context.Background(), "ns", nil, tt.signals)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			var got []string
			for _, p := range d.Pods {
				got = append(got, p.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("pods = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCollectContainerEvidence(t *testing.T) {
	p := newPod("web-1", phase(corev1.PodPending), ready(false),
		initStatuses(
			corev1.ContainerStatus{Name: "done", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}},
			lastTerminated(waiting("migrate", "CrashLoopBackOff", "back-off"), 137, "OOMKilled", 2),
		),
		containers(corev1.Container{Name: "app", Image: "web:1"}, corev1.Container{Name: "side", Image: "side:1"}),
		statuses(corev1.ContainerStatus{Name: "app", Image: "docker.io/library/web:1", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", Message: "boom"}}}))
	client := fake.NewClientset(p)
	d, err := Collector{Client: client, LogLines: 7}.Collect(context.Background(), "ns", nil, nil)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	want := []ContainerEvidence{
		{Name: "migrate", Image: "init:1", State: "waiting", Reason: "CrashLoopBackOff", Message: "back-off",
			ExitCode: int32p(137), Restarts: 2, LastTerminated: "OOMKilled", PreviousLogs: []string{"fake logs"}},
		{Name: "app", Image: "web:1", State: "terminated", Reason: "Error", Message: "boom", ExitCode: int32p(2)},
		{Name: "side", Image: "side:1"},
	}
	if len(d.Pods) != 1 || !reflect.DeepEqual(d.Pods[0].Containers, want) {
		g, _ := json.MarshalIndent(d.Pods, "", "  ")
		t.Fatalf("pods =\n%s\nwant one pod with containers %+v", g, want)
	}
	if d.Category != "" || d.Summary != "" || d.Hint != "" {
		t.Errorf("without signals: category/summary/hint = %q/%q/%q, want empty", d.Category, d.Summary, d.Hint)
	}
	logs := logRequests(client)
	if len(logs) != 1 || logs[0].Container != "migrate" || *logs[0].TailLines != 7 {
		t.Errorf("GetLogs = %+v, want one call for migrate with 7 tail lines", logs)
	}
}

func TestCollectLogs(t *testing.T) {
	crash := newPod("web-1", ready(false),
		statuses(lastTerminated(waiting("app", "CrashLoopBackOff", "back-off"), 1, "Error", 1)))
	tests := []struct {
		name     string
		lines    int64
		reaction func(k8stesting.Action) (bool, runtime.Object, error)
		want     []string
	}{
		{name: "fetch error records nothing",
			reaction: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("logs unavailable")
			}},
		{name: "tail is enforced client side", lines: 2,
			reaction: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, &runtime.Unknown{Raw: []byte("one\r\ntwo\nthree\n\n")}, nil
			},
			want: []string{"two", "three"}},
		{name: "empty logs", reaction: func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, &runtime.Unknown{Raw: []byte("\n")}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(crash)
			client.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "log" {
					return false, nil, nil
				}
				return tt.reaction(a)
			})
			d, err := Collector{Client: client, LogLines: tt.lines}.Collect(context.Background(), "ns", nil,
				[]Signal{{Category: CrashLoop, Object: "Pod/web-1", Reason: "CrashLoopBackOff"}})
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if len(d.Pods) != 1 || len(d.Pods[0].Containers) != 1 {
				t.Fatalf("pods = %+v, want one with one container", d.Pods)
			}
			if got := d.Pods[0].Containers[0].PreviousLogs; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PreviousLogs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCollectErrors(t *testing.T) {
	sig := []Signal{{Category: CrashLoop, Object: "Pod/web-1", Reason: "CrashLoopBackOff", Message: "back-off"}}
	t.Run("no client", func(t *testing.T) {
		d, err := Collector{}.Collect(context.Background(), "ns", nil, sig)
		if err == nil || d.Category != CrashLoop || d.Hint != hintCrashNoLogs {
			t.Fatalf("Collect() = %+v, %v; want the signal's category and hint and an error", d, err)
		}
	})
	for _, resource := range []string{"pods", "events"} {
		t.Run("list "+resource+" fails", func(t *testing.T) {
			client := fake.NewClientset(
				newPod("web-1", ready(false), statuses(waiting("app", "CrashLoopBackOff", "back-off"))),
				warning("e1", "Pod", "web-1", "BackOff", "Back-off restarting failed container", 0))
			client.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, fmt.Errorf("%s are forbidden", resource)
			})
			d, err := Collector{Client: client}.Collect(context.Background(), "ns", nil, sig)
			if err == nil || !strings.Contains(err.Error(), resource+" are forbidden") {
				t.Fatalf("err = %v, want the list error", err)
			}
			if d.Category != CrashLoop || d.Summary != "Pod web-1: CrashLoopBackOff (back-off)" || !reflect.DeepEqual(d.Signals, sig) {
				t.Errorf("partial diagnosis = %+v, want the signal's category and summary", d)
			}
			// The other half of the evidence is still there.
			if gotPods, gotEvents := len(d.Pods), len(d.Events); (resource == "pods") != (gotPods == 0) || (resource == "events") != (gotEvents == 0) {
				t.Errorf("after a %s failure: %d pods, %d events", resource, gotPods, gotEvents)
			}
		})
	}
}

func TestCollectEventLimit(t *testing.T) {
	objs := []runtime.Object{}
	for i := range 25 {
		objs = append(objs, warning(fmt.Sprintf("e%02d", i), "ReplicaSet", "web-5d4f", "FailedCreate", fmt.Sprintf("attempt %02d", i), time.Duration(i)*time.Second))
	}
	d, err := Collector{Client: fake.NewClientset(objs...)}.Collect(context.Background(), "ns", nil, nil)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(d.Events) != 20 {
		t.Fatalf("%d events, want 20", len(d.Events))
	}
	for i, e := range d.Events {
		if want := fmt.Sprintf("attempt %02d", i); e.Message != want {
			t.Errorf("event %d = %q, want %q (most recent first)", i, e.Message, want)
		}
	}
}
