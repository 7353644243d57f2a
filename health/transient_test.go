package health

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

func TestTransientCreateFailure(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	b := diagnose.DefaultBudgets()
	rs := func(have int32) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3)}, Status: appsv1.ReplicaSetStatus{Replicas: have}}
	}
	ev := func(reason string, age time.Duration) *corev1.Event {
		return &corev1.Event{Reason: reason, FirstTimestamp: metav1.NewTime(now.Add(-age)), LastTimestamp: metav1.NewTime(now)}
	}
	cases := []struct {
		name      string
		e         *corev1.Event
		rs        *appsv1.ReplicaSet
		transient bool
	}{
		{"fresh refusal: may resolve", ev("FailedCreate", 2*time.Second), rs(2), true},
		{"old refusal, RS still short: persists", ev("FailedCreate", 11*time.Second), rs(2), false},
		{"old refusal, RS complete since: resolved", ev("FailedCreate", time.Minute), rs(3), true},
		{"other reasons are not this rule's", ev("Failed", time.Second), rs(0), false},
	}
	for _, tc := range cases {
		if got := transientCreateFailure(tc.e, *tc.rs.Spec.Replicas, tc.rs.Status.Replicas, now, b); got != tc.transient {
			t.Errorf("%s: transient = %v, want %v", tc.name, got, tc.transient)
		}
	}
}
