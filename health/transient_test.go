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

// A Deployment's ReplicaFailure condition (its ReplicaSet's first FailedCreate, copied) is
// judged as the event is: a quota refusal while an old pod still terminates clears itself.
func TestTransientReplicaFailure(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	b := diagnose.DefaultBudgets()
	p := func(reason string, age time.Duration, have int32) progress {
		return progress{own: &diagnose.Signal{Category: diagnose.Capacity, Reason: reason}, ownSince: now.Add(-age), observed: true, want: 3, have: have}
	}
	for _, tc := range []struct {
		name      string
		p         progress
		transient bool
	}{
		{"fresh quota refusal: may resolve as the old pod goes", p("FailedCreate", 2*time.Second, 2), true},
		{"a refusal past the budget, still short: persists", p("FailedCreate", 11*time.Second, 2), false},
		{"a refusal past the budget, complete since: resolved", p("FailedCreate", time.Minute, 3), true},
		{"a deadline is not this rule's", p("ProgressDeadlineExceeded", time.Second, 0), false},
		{"no time on the condition: not provably fresh", progress{own: &diagnose.Signal{Reason: "FailedCreate"}, want: 3}, false},
	} {
		if got := transientReplicaFailure(tc.p, now, b); got != tc.transient {
			t.Errorf("%s: transient = %v, want %v", tc.name, got, tc.transient)
		}
	}
}
