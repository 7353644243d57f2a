package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// The safe window is shorter than the Lease: a run stops writing before anyone could take over.
func TestSafeWindowInsideLease(t *testing.T) {
	if SafeFor >= LeaseDuration || SafeFor < 2*RenewEvery {
		t.Errorf("SafeFor %s must be below LeaseDuration %s and allow two renewals (every %s)", SafeFor, LeaseDuration, RenewEvery)
	}
}

// Someone else takes the Lease: the holder's next write finds out, refuses, and Lost fires.
func TestLockLostToAnotherHolder(t *testing.T) {
	cs := fake.NewClientset()
	ctx := context.Background()
	l, err := Acquire(ctx, cs, "ns", "web", "run-1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lease, _ := cs.CoordinationV1().Leases("ns").Get(ctx, "shepherd-web", metav1.GetOptions{})
	lease.Spec.HolderIdentity = ptr.To("run-2")
	lease.ResourceVersion = "2"
	if _, err := cs.CoordinationV1().Leases("ns").Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// fake's Update does not check resourceVersion: make the holder's stale write conflict.
	cs.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "leases"}, "shepherd-web", errors.New("stale"))
	})
	err = l.SetPhase(ctx, "deploying", 2)
	if !errors.Is(err, ErrLockLost) || !strings.Contains(err.Error(), "run-2 now holds it") {
		t.Fatalf("SetPhase after losing the lock = %v, want ErrLockLost naming run-2", err)
	}
	select {
	case <-l.Lost():
	default:
		t.Fatal("Lost did not fire")
	}
	if err := l.SetPhase(ctx, "done", 0); !errors.Is(err, ErrLockLost) {
		t.Errorf("a later write = %v, want refused", err)
	}
	if err := l.Release(ctx, "done"); err != nil {
		t.Errorf("Release of a lost lock = %v, want nil (nothing of ours to free)", err)
	}
	cur, _ := cs.CoordinationV1().Leases("ns").Get(ctx, "shepherd-web", metav1.GetOptions{})
	if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h != "run-2" {
		t.Errorf("holder after Release of a lost lock = %q, want run-2 untouched", h)
	}
}

// Two runs race to create the Lease: the loser names the winner, not itself.
func TestAcquireRaceNamesTheRealHolder(t *testing.T) {
	cs := fake.NewClientset()
	now := metav1.NewMicroTime(time.Now())
	winner := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "shepherd-web", Namespace: "ns"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("run-winner"), LeaseDurationSeconds: ptr.To[int32](30), RenewTime: &now, AcquireTime: &now}}
	gets := 0
	cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		if gets == 1 { // before the create: not there yet
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "leases"}, "shepherd-web")
		}
		return true, winner, nil
	})
	cs.PrependReactor("create", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "leases"}, "shepherd-web")
	})
	_, err := Acquire(context.Background(), cs, "ns", "web", "run-loser", 0)
	if err == nil || !strings.Contains(err.Error(), "run-winner") || strings.Contains(err.Error(), "run-loser") {
		t.Fatalf("Acquire = %v, want it to name run-winner", err)
	}
}
