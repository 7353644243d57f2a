package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// heldLease is the Lease of release web held by holder, renewed at renew (on the holder's
// clock), recorded by process (another host's unless given).
func heldLease(holder string, renew time.Time, process string) *coordinationv1.Lease {
	if process == "" {
		process = "another-runner/boot/42/1/pid:[4026531836]"
	}
	t := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "shepherd-web", Namespace: "ns",
		Annotations: map[string]string{AnnotationProcess: process, AnnotationPhase: "deploying"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](30), AcquireTime: &t, RenewTime: &t}}
}

func renewLease(t *testing.T, cs *fake.Clientset, at time.Time) {
	t.Helper()
	le, err := cs.CoordinationV1().Leases("ns").Get(context.Background(), "shepherd-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rt := metav1.NewMicroTime(at)
	le.Spec.RenewTime = &rt
	if _, err := cs.CoordinationV1().Leases("ns").Update(context.Background(), le, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// An observer whose clock runs 60 s ahead of the holder's never takes a Lease that is being
// renewed: expiry is judged on the observer's own clock, since it last saw the Lease change.
// Once the holder stops renewing, the observer takes it after LeaseDuration of its own time.
func TestSkewedClockDoesNotTakeALiveLease(t *testing.T) {
	holderNow := time.Unix(1_000_000, 0)
	cs := fake.NewClientset(heldLease("run-A", holderNow, ""))
	observerNow := holderNow.Add(60 * time.Second)
	b := &Lock{client: cs, ns: "ns", name: "shepherd-web", holder: "run-B", now: func() time.Time { return observerNow }}
	step := func(d time.Duration, renew bool) bool {
		t.Helper()
		holderNow, observerNow = holderNow.Add(d), observerNow.Add(d)
		if renew {
			renewLease(t, cs, holderNow)
		}
		ok, _, err := b.try(context.Background(), "web")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if step(0, false) {
		t.Fatal("an observer 60 s ahead took a Lease renewed just now by its holder's clock")
	}
	for i := 0; i < 12; i++ { // two minutes of renewals every 10 s
		if step(10*time.Second, true) {
			t.Fatalf("took a Lease its holder is renewing (after %d renewals)", i+1)
		}
	}
	if step(29*time.Second, false) {
		t.Fatal("took the Lease 29 s after its last renewal, before LeaseDuration of the observer's time")
	}
	if !step(2*time.Second, false) {
		t.Fatal("did not take the Lease after it went unrenewed for LeaseDuration of the observer's time")
	}
	if b.Previous.Holder != "run-A" || !b.Previous.Expired {
		t.Errorf("Previous %+v, want run-A's, expired", b.Previous)
	}
}

// A run that first sees a Lease held waits LeaseDuration of its own time before taking it,
// however old its renew time looks — unless its holder is provably dead.
func TestFirstSightWaitsLeaseDuration(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	cs := fake.NewClientset(heldLease("run-A", now.Add(-5*time.Minute), ""))
	b := &Lock{client: cs, ns: "ns", name: "shepherd-web", holder: "run-B", now: func() time.Time { return now }}
	for _, d := range []time.Duration{0, 10 * time.Second, 19 * time.Second} {
		now = now.Add(d)
		if ok, _, _ := b.try(context.Background(), "web"); ok {
			t.Fatalf("took a Lease first seen %s ago", d)
		}
	}
	now = now.Add(time.Second)
	if ok, _, err := b.try(context.Background(), "web"); !ok || err != nil {
		t.Fatalf("did not take a Lease unchanged for 30 s of this run's time: %v", err)
	}

	host, _ := os.Hostname()
	dead := fmt.Sprintf("%s/%s/%d/%s/%s", host, bootID(), 1<<22+7, "1", pidNamespace()) // no such pid
	cs = fake.NewClientset(heldLease("run-A", now, dead))
	c := &Lock{client: cs, ns: "ns", name: "shepherd-web", holder: "run-C", now: time.Now}
	if ok, _, err := c.try(context.Background(), "web"); !ok || err != nil {
		t.Errorf("did not take at once the Lease of a provably dead holder: %v", err)
	}
}

// A holder writes its own clock's time as the renew time.
func TestLockWritesItsClock(t *testing.T) {
	at := time.Unix(2_000_000, 0)
	cs := fake.NewClientset()
	l, err := AcquireAt(context.Background(), cs, "ns", "web", "run-A", time.Second, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release(context.Background(), PhaseDone) }()
	le, _ := cs.CoordinationV1().Leases("ns").Get(context.Background(), "shepherd-web", metav1.GetOptions{})
	if got := timeOf(le.Spec.RenewTime); !got.Equal(at) {
		t.Errorf("renew time %s, want the holder's clock %s", got, at)
	}
}

// A stop request names the holder it is for and is written only while that holder holds the
// lock: when another run took it between the read and the write, the write conflicts, the
// re-read finds the new holder, and nothing is written.
func TestRequestStopOnlyToTheHolderRead(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(heldLease("run-A", time.Now(), ""))
	if err := RequestStop(ctx, cs, "ns", "web", "run-A", "rollback #1", "bad canary"); err != nil {
		t.Fatal(err)
	}
	st, _ := Peek(ctx, cs, "ns", "web")
	if by, reason, ok := st.StopRequest("run-A"); !ok || by != "rollback #1" || reason != "bad canary" {
		t.Errorf("run-A's request: %q %q %v", by, reason, ok)
	}

	cs = fake.NewClientset(heldLease("run-A", time.Now(), ""))
	// run-B takes the lock after the request's read, before its write: the write conflicts
	cs.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if err := cs.Tracker().Update(schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
			heldLease("run-B", time.Now(), ""), "ns"); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "leases"}, "shepherd-web", errors.New("changed"))
	})
	err := RequestStop(ctx, cs, "ns", "web", "run-A", "rollback #1", "bad canary")
	if !errors.Is(err, ErrHolderChanged) {
		t.Fatalf("RequestStop racing a change of holder = %v, want ErrHolderChanged", err)
	}
	le, _ := cs.CoordinationV1().Leases("ns").Get(ctx, "shepherd-web", metav1.GetOptions{})
	if le.Annotations[AnnotationStopBy] != "" || ptr.Deref(le.Spec.HolderIdentity, "") != "run-B" {
		t.Errorf("after the race: holder %q, stop request %q; want run-B, none", ptr.Deref(le.Spec.HolderIdentity, ""), le.Annotations[AnnotationStopBy])
	}
}

// A holder acts only on a request naming it: one for the lock's previous holder, or one that
// names no holder (an older version's), is not addressed to it.
func TestStopRequestNamesItsHolder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		notes map[string]string
		ok    bool
	}{
		{"for this holder", map[string]string{AnnotationStopBy: "rb", AnnotationStopFor: "run-B"}, true},
		{"for the previous holder", map[string]string{AnnotationStopBy: "rb", AnnotationStopFor: "run-A"}, false},
		{"naming no holder", map[string]string{AnnotationStopBy: "rb"}, false},
		{"none", map[string]string{}, false},
	} {
		if _, _, ok := (&LeaseState{Notes: tc.notes}).StopRequest("run-B"); ok != tc.ok {
			t.Errorf("%s: addressed to run-B = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}
