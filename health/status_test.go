package health

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Fixtures shared by the health tests: a Deployment "web" in namespace "shop" at revision 2,
// its new ReplicaSet (hash "new5d") and old one (revision 1, hash "old7c").

const (
	fxNamespace = "shop"
	fxNewHash   = "new5d"
	fxOldHash   = "old7c"
)

// fxNow is the fixed "current time" of the health tests.
var fxNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fxControllerRef(kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}
}

// fxDeployment is a Deployment at revision rev whose status says the rollout of `replicas`
// replicas is complete.
func fxDeployment(name string, replicas int32, rev string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: fxNamespace, UID: types.UID("uid-" + name), Generation: 2,
			Annotations: map[string]string{revisionAnnotation: rev},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 2, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas,
		},
	}
}

// fxReplicaSet is a ReplicaSet controlled by d at revision rev with pod-template-hash hash.
func fxReplicaSet(d *appsv1.Deployment, rev, hash string) *appsv1.ReplicaSet {
	name := d.Name + "-" + hash
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: fxNamespace, UID: types.UID("uid-" + name),
			Labels:          map[string]string{"app": d.Name, appsv1.DefaultDeploymentUniqueLabelKey: hash},
			Annotations:     map[string]string{revisionAnnotation: rev},
			OwnerReferences: []metav1.OwnerReference{fxControllerRef("Deployment", d.Name, d.UID)},
		},
		// Only the app label: the watcher adds pod-template-hash itself.
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.Name}}},
	}
}

// fxPod is a running, ready pod controlled by rs.
func fxPod(rs *appsv1.ReplicaSet, suffix string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: rs.Name + "-" + suffix, Namespace: fxNamespace, UID: types.UID("uid-" + rs.Name + "-" + suffix),
			Labels:          map[string]string{"app": rs.Labels["app"], appsv1.DefaultDeploymentUniqueLabelKey: rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]},
			OwnerReferences: []metav1.OwnerReference{fxControllerRef("ReplicaSet", rs.Name, rs.UID)},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/web:2"}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			StartTime:  ptr.To(metav1.NewTime(fxNow.Add(-time.Minute))),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: true, Started: ptr.To(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(fxNow.Add(-time.Minute))}},
			}},
		},
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		name     string
		replicas *int32
		gen, obs int64
		status   appsv1.DeploymentStatus // ObservedGeneration is set from obs
		want     bool
		wantDesc string
	}{
		{name: "done", replicas: ptr.To[int32](3), gen: 2, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3},
			want:   true, wantDesc: "web: 3/3 updated, 3 ready, 3 available, 3 total"},
		{name: "observed generation lags", replicas: ptr.To[int32](3), gen: 3, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3},
			want:   false, wantDesc: "waiting for the deployment controller"},
		{name: "partially updated", replicas: ptr.To[int32](3), gen: 2, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3},
			want:   false, wantDesc: "web: 2/3 updated"},
		{name: "old replicas remaining", replicas: ptr.To[int32](3), gen: 2, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 3},
			want:   false, wantDesc: "4 total"},
		{name: "updated but unavailable", replicas: ptr.To[int32](3), gen: 2, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 1},
			want:   false, wantDesc: "2 available"},
		{name: "as kubectl rollout status: available counts, not the unavailable tally", replicas: ptr.To[int32](3), gen: 2, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1},
			want:   true},
		{name: "replicas nil means 1, done", replicas: nil, gen: 1, obs: 1,
			status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1},
			want:   true, wantDesc: "1/1 updated"},
		{name: "progress deadline exceeded is not complete", replicas: ptr.To[int32](3), gen: 2, obs: 2,
			status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}},
			want: false},
		{name: "scaled to zero", replicas: ptr.To[int32](0), gen: 1, obs: 1,
			status: appsv1.DeploymentStatus{}, want: true},
		{name: "nothing yet", replicas: ptr.To[int32](2), gen: 1, obs: 1,
			status: appsv1.DeploymentStatus{}, want: false, wantDesc: "0/2 updated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fxDeployment("web", 1, "1")
			d.Spec.Replicas = tt.replicas
			d.Generation = tt.gen
			d.Status = tt.status
			d.Status.ObservedGeneration = tt.obs
			got, desc := Complete(d)
			if got != tt.want {
				t.Errorf("Complete = %v (%q), want %v", got, desc, tt.want)
			}
			if !strings.HasPrefix(desc, "web: ") {
				t.Errorf("description %q does not start with the deployment's name", desc)
			}
			if !strings.Contains(desc, tt.wantDesc) {
				t.Errorf("description %q does not contain %q", desc, tt.wantDesc)
			}
		})
	}
}

func TestNewReplicaSet(t *testing.T) {
	d := fxDeployment("web", 2, "2")
	oldRS := fxReplicaSet(d, "1", fxOldHash)
	newRS := fxReplicaSet(d, "2", fxNewHash)

	other := fxDeployment("api", 2, "2")
	foreign := fxReplicaSet(other, "2", "api99") // same revision, another owner

	notController := fxReplicaSet(d, "2", "nc111")
	notController.OwnerReferences[0].Controller = ptr.To(false)

	noControllerField := fxReplicaSet(d, "2", "nil222")
	noControllerField.OwnerReferences[0].Controller = nil

	noAnnotation := fxDeployment("web", 2, "")
	delete(noAnnotation.Annotations, revisionAnnotation)

	tests := []struct {
		name string
		d    *appsv1.Deployment
		rss  []*appsv1.ReplicaSet
		want *appsv1.ReplicaSet
	}{
		{name: "picks the one at the deployment's revision", d: d, rss: []*appsv1.ReplicaSet{oldRS, newRS}, want: newRS},
		{name: "order does not matter", d: d, rss: []*appsv1.ReplicaSet{newRS, oldRS}, want: newRS},
		{name: "another deployment's at the same revision is not it", d: d, rss: []*appsv1.ReplicaSet{foreign, oldRS}, want: nil},
		{name: "owner reference that is not the controller", d: d, rss: []*appsv1.ReplicaSet{notController}, want: nil},
		{name: "owner reference without controller flag", d: d, rss: []*appsv1.ReplicaSet{noControllerField}, want: nil},
		{name: "not created yet", d: d, rss: []*appsv1.ReplicaSet{oldRS}, want: nil},
		{name: "no replica sets", d: d, rss: nil, want: nil},
		{name: "deployment without revision annotation", d: noAnnotation, rss: []*appsv1.ReplicaSet{oldRS, newRS}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewReplicaSet(tt.d, tt.rss)
			if got != tt.want {
				t.Errorf("NewReplicaSet = %s, want %s", rsName(got), rsName(tt.want))
			}
		})
	}
}

func rsName(rs *appsv1.ReplicaSet) string {
	if rs == nil {
		return "nil"
	}
	return rs.Name
}

func TestPodsOf(t *testing.T) {
	d := fxDeployment("web", 2, "2")
	oldRS := fxReplicaSet(d, "1", fxOldHash)
	newRS := fxReplicaSet(d, "2", fxNewHash)

	a, b := fxPod(newRS, "a"), fxPod(newRS, "b")
	deleting := fxPod(newRS, "gone")
	deleting.DeletionTimestamp = ptr.To(metav1.NewTime(fxNow))
	old := fxPod(oldRS, "x")
	// Same labels as the new RS's pods, but not controlled by it.
	orphan := fxPod(newRS, "orphan")
	orphan.OwnerReferences = nil
	adopted := fxPod(newRS, "ref")
	adopted.OwnerReferences[0].Controller = ptr.To(false)

	got := PodsOf(newRS, []*corev1.Pod{old, a, deleting, orphan, b, adopted})
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	want := []string{a.Name, b.Name}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("PodsOf(new) = %v, want %v", names, want)
	}
	if got := PodsOf(oldRS, []*corev1.Pod{old, a, b}); len(got) != 1 || got[0] != old {
		t.Errorf("PodsOf(old) = %d pods, want only %s", len(got), old.Name)
	}
	if got := PodsOf(newRS, nil); len(got) != 0 {
		t.Errorf("PodsOf(no pods) = %d pods", len(got))
	}
}
