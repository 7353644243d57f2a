package health

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func fxOwnedPod(name string, uid types.UID, lbl map[string]string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fxNamespace, Labels: lbl,
			OwnerReferences: []metav1.OwnerReference{{UID: uid, Controller: ptr.To(true)}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func fxStatefulSet(replicas int32, status appsv1.StatefulSetStatus, strategy appsv1.StatefulSetUpdateStrategy) *appsv1.StatefulSet {
	status.ObservedGeneration = 2
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: fxNamespace, UID: "sts-uid", Generation: 2},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas), UpdateStrategy: strategy,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status: status,
	}
}

func TestStatefulSetProgress(t *testing.T) {
	rolling := appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
	partition := func(n int32) appsv1.StatefulSetUpdateStrategy {
		return appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(n)}}
	}
	onDelete := appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	tests := []struct {
		name     string
		sts      *appsv1.StatefulSet
		wantDone bool
		wantLine string
	}{
		{"rolling, all updated and ready", fxStatefulSet(3, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3,
			CurrentRevision: "db-new", UpdateRevision: "db-new"}, rolling), true, "rolling update complete"},
		{"rolling, one pod still old", fxStatefulSet(3, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 2,
			CurrentRevision: "db-old", UpdateRevision: "db-new"}, rolling), false, "waiting for statefulset rolling update"},
		{"rolling, not all ready", fxStatefulSet(3, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3,
			CurrentRevision: "db-new", UpdateRevision: "db-new"}, rolling), false, "Waiting for 1 pods to be ready"},
		{"partition 2 of 3: one updated pod is the whole rollout", fxStatefulSet(3, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3,
			UpdatedReplicas: 1, CurrentRevision: "db-old", UpdateRevision: "db-new"}, partition(2)), true, "partitioned roll out complete"},
		{"partition 1 of 3: one updated is not enough", fxStatefulSet(3, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3,
			UpdatedReplicas: 1, CurrentRevision: "db-old", UpdateRevision: "db-new"}, partition(1)), false, "1 out of 2 new pods"},
		{"OnDelete: nothing rolls; done when the pods are ready", fxStatefulSet(2, appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2,
			CurrentRevision: "db-old", UpdateRevision: "db-new"}, onDelete), true, "OnDelete"},
		{"OnDelete: a pod not ready", fxStatefulSet(2, appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1,
			CurrentRevision: "db-old", UpdateRevision: "db-new"}, onDelete), false, "1 ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newPod := fxOwnedPod("db-2", "sts-uid", map[string]string{"app": "db", appsv1.ControllerRevisionHashLabelKey: "db-new"}, true)
			oldPod := fxOwnedPod("db-0", "sts-uid", map[string]string{"app": "db", appsv1.ControllerRevisionHashLabelKey: "db-old"}, true)
			s := &snapshot{t: Target{StatefulSets: []string{"db"}}, sts: map[string]*appsv1.StatefulSet{"db": tt.sts}, pods: []*corev1.Pod{newPod, oldPod}}
			p := s.statefulSet("db")
			if p.done != tt.wantDone || !strings.Contains(p.line, tt.wantLine) {
				t.Errorf("done %v line %q, want %v and %q", p.done, p.line, tt.wantDone, tt.wantLine)
			}
			if len(p.pods) != 1 || p.pods[0].Name != "db-2" {
				t.Errorf("new pods = %v, want only db-2 (the update revision's)", p.pods)
			}
			if p.ownerKind != KindStatefulSet || p.want != *tt.sts.Spec.Replicas {
				t.Errorf("owner %s want %d", p.ownerKind, p.want)
			}
		})
	}
	t.Run("not observed yet", func(t *testing.T) {
		st := fxStatefulSet(1, appsv1.StatefulSetStatus{}, rolling)
		st.Status.ObservedGeneration = 1
		s := &snapshot{sts: map[string]*appsv1.StatefulSet{"db": st}}
		if p := s.statefulSet("db"); p.done || p.observed {
			t.Errorf("done %v observed %v before the controller saw the spec", p.done, p.observed)
		}
	})
}

func TestDaemonSetProgress(t *testing.T) {
	ds := func(status appsv1.DaemonSetStatus, typ appsv1.DaemonSetUpdateStrategyType) *appsv1.DaemonSet {
		status.ObservedGeneration = 3
		return &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: fxNamespace, UID: "ds-uid", Generation: 3,
				Annotations: map[string]string{daemonSetGenerationAnnotation: "3"}},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: typ}},
			Status: status,
		}
	}
	tests := []struct {
		name     string
		ds       *appsv1.DaemonSet
		wantDone bool
		wantLine string
	}{
		{"rolled out", ds(appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2,
			NumberReady: 2, NumberAvailable: 2}, appsv1.RollingUpdateDaemonSetStrategyType), true, "successfully rolled out"},
		{"one node still old", ds(appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 1,
			NumberReady: 2, NumberAvailable: 2}, appsv1.RollingUpdateDaemonSetStrategyType), false, "1 out of 2 new pods"},
		{"updated but not available", ds(appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2,
			NumberReady: 1, NumberAvailable: 1}, appsv1.RollingUpdateDaemonSetStrategyType), false, "1 of 2 updated pods are available"},
		{"OnDelete, all ready", ds(appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, NumberReady: 2}, appsv1.OnDeleteDaemonSetStrategyType), true, "OnDelete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newPod := fxOwnedPod("agent-b", "ds-uid", map[string]string{"app": "agent", daemonSetGenerationLabel: "3"}, true)
			oldPod := fxOwnedPod("agent-a", "ds-uid", map[string]string{"app": "agent", daemonSetGenerationLabel: "2"}, true)
			s := &snapshot{dss: map[string]*appsv1.DaemonSet{"agent": tt.ds}, pods: []*corev1.Pod{newPod, oldPod}}
			p := s.daemonSet("agent")
			if p.done != tt.wantDone || !strings.Contains(p.line, tt.wantLine) {
				t.Errorf("done %v line %q, want %v and %q", p.done, p.line, tt.wantDone, tt.wantLine)
			}
			if len(p.pods) != 1 || p.pods[0].Name != "agent-b" {
				t.Errorf("new pods = %v, want only agent-b (the current template generation's)", p.pods)
			}
		})
	}
}
