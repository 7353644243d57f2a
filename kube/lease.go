package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Shepherd's state lives in the cluster under this prefix, on the release's Lease.
const (
	Prefix          = "shepherd.io/"
	AnnotationPhase = Prefix + "phase"    // what the holder is doing: deploying, rolling-back, verifying, done
	AnnotationRev   = Prefix + "revision" // the revision the holder is working on
	AnnotationRun   = Prefix + "run"      // who: the workflow run URL
	LabelRelease    = Prefix + "release"
)

// LeaseDuration is how long a lock outlives its holder's last renewal: a killed run's lock
// expires after this and the next run takes it over.
const LeaseDuration = 30 * time.Second

// Lock is a held per-release Lease, renewed in the background until Release.
type Lock struct {
	client   kubernetes.Interface
	ns, name string
	holder   string
	// TakenOver is the previous holder whose expired lock this run took, with its last phase
	// and revision ("" when the lock was free).
	TakenOver, TakenOverPhase, TakenOverRevision string

	mu     sync.Mutex
	lease  *coordinationv1.Lease
	stop   chan struct{}
	done   chan struct{}
	renewE error
}

// LockName is the Lease name for a release.
func LockName(release string) string { return "shepherd-" + release }

// Acquire takes the release's Lease for holder, waiting up to wait while a live run holds it.
// It fails naming the holder. An expired Lease (its holder stopped renewing) is taken over.
func Acquire(ctx context.Context, cs kubernetes.Interface, ns, release, holder string, wait time.Duration) (*Lock, error) {
	l := &Lock{client: cs, ns: ns, name: LockName(release), holder: holder}
	deadline := time.Now().Add(wait)
	for {
		ok, current, err := l.try(ctx, release)
		if err != nil {
			return nil, err
		}
		if ok {
			l.stop, l.done = make(chan struct{}), make(chan struct{})
			go l.renew()
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("release %s is locked by another run: %s (since %s, renewed %s ago); waited %s (lock_timeout)",
				release, orUnknown(ptr.Deref(current.Spec.HolderIdentity, "")), timeOf(current.Spec.AcquireTime),
				time.Since(timeOf(current.Spec.RenewTime)).Round(time.Second), wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (l *Lock) try(ctx context.Context, release string) (bool, *coordinationv1.Lease, error) {
	leases := l.client.CoordinationV1().Leases(l.ns)
	now := metav1.NewMicroTime(time.Now())
	cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: l.name, Labels: map[string]string{LabelRelease: release},
				Annotations: map[string]string{AnnotationRun: l.holder, AnnotationPhase: "starting"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &l.holder, LeaseDurationSeconds: ptr.To(int32(LeaseDuration.Seconds())),
				AcquireTime: &now, RenewTime: &now},
		}
		created, err := leases.Create(ctx, lease, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return false, lease, nil
		}
		if err != nil {
			return false, nil, fmt.Errorf("lock release %s: %w", release, Explain(err))
		}
		l.lease = created
		return true, created, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("lock release %s: %w", release, Explain(err))
	}
	holder := ptr.Deref(cur.Spec.HolderIdentity, "")
	if holder != "" && holder != l.holder && !expired(cur, time.Now()) {
		return false, cur, nil
	}
	next := cur.DeepCopy()
	if holder != "" && holder != l.holder {
		l.TakenOver, l.TakenOverPhase, l.TakenOverRevision = holder, cur.Annotations[AnnotationPhase], cur.Annotations[AnnotationRev]
		next.Spec.LeaseTransitions = ptr.To(ptr.Deref(cur.Spec.LeaseTransitions, 0) + 1)
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	next.Annotations[AnnotationRun] = l.holder
	next.Annotations[AnnotationPhase] = "starting"
	next.Spec.HolderIdentity, next.Spec.AcquireTime, next.Spec.RenewTime = &l.holder, &now, &now
	next.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration.Seconds()))
	updated, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return false, cur, nil // someone else moved first; look again
	}
	if err != nil {
		return false, nil, fmt.Errorf("lock release %s: %w", release, Explain(err))
	}
	l.lease = updated
	return true, updated, nil
}

func expired(l *coordinationv1.Lease, now time.Time) bool {
	renew := timeOf(l.Spec.RenewTime)
	d := time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, int32(LeaseDuration.Seconds()))) * time.Second
	return renew.Add(d).Before(now)
}

func timeOf(t *metav1.MicroTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown holder"
	}
	return s
}

// renew keeps the lease fresh every third of its duration.
func (l *Lock) renew() {
	defer close(l.done)
	t := time.NewTicker(LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			_ = l.update(context.Background(), func(le *coordinationv1.Lease) {
				now := metav1.NewMicroTime(time.Now())
				le.Spec.RenewTime = &now
			})
		}
	}
}

// SetPhase records what the run is doing, on the Lease, so a later run can tell where an
// interrupted one stopped.
func (l *Lock) SetPhase(ctx context.Context, phase string, revision int) error {
	return l.update(ctx, func(le *coordinationv1.Lease) {
		le.Annotations[AnnotationPhase] = phase
		if revision > 0 {
			le.Annotations[AnnotationRev] = fmt.Sprint(revision)
		}
	})
}

func (l *Lock) update(ctx context.Context, mutate func(*coordinationv1.Lease)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		next := l.lease.DeepCopy()
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		mutate(next)
		updated, err := l.client.CoordinationV1().Leases(l.ns).Update(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			l.lease = updated
			return nil
		}
		if !apierrors.IsConflict(err) {
			l.renewE = err
			return err
		}
		cur, gerr := l.client.CoordinationV1().Leases(l.ns).Get(ctx, l.name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if ptr.Deref(cur.Spec.HolderIdentity, "") != l.holder {
			return fmt.Errorf("lost the lock of %s to %s", l.name, ptr.Deref(cur.Spec.HolderIdentity, ""))
		}
		l.lease = cur
	}
	return fmt.Errorf("update lock %s: too many conflicts", l.name)
}

// Release stops renewing and frees the Lease (keeping it, with phase done, as a record).
func (l *Lock) Release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	return l.update(ctx, func(le *coordinationv1.Lease) {
		le.Spec.HolderIdentity = nil
		le.Annotations[AnnotationPhase] = "done"
	})
}
