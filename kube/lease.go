package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	// AnnotationStrategy is the strategy whose work the Lease records; the strategy's own
	// notes (package strategy) sit beside it.
	AnnotationStrategy = Prefix + "strategy"
	LabelRelease       = Prefix + "release"
	// A rollback's request to the run holding the lock (a canary in flight) to stop now: who
	// asks, and why. The holder polls for it every second.
	AnnotationStopBy     = Prefix + "stop-requested-by"
	AnnotationStopReason = Prefix + "stop-reason"
)

// requestNotes are notes addressed to the holder: cleared when the lock changes hands.
var requestNotes = []string{AnnotationStopBy, AnnotationStopReason, AnnotationStopFor}

// LeaseDuration is how long a lock outlives its holder's last renewal: a killed run's lock
// expires after this and the next run takes it over.
const LeaseDuration = 30 * time.Second

// RenewEvery is how often the holder renews its lock.
const RenewEvery = LeaseDuration / 6

// SafeFor is how long after its last successful renewal (timed from when it was sent) a holder
// may go on writing: it stops (Lost fires) this long after, LeaseDuration−SafeFor before anyone
// else could take the lock over — others judge expiry on their own clocks from when they saw
// the renewal, never from the time it carries, so clock skew does not eat into the margin,
// which is left for a request already in flight. The watcher's API-loss bound is the same
// figure, so the two never disagree.
const SafeFor = LeaseDuration * 2 / 3

// Phase is what a run is doing, as it records it on the release's Lease for the next run.
type Phase string

// Phases.
const (
	PhaseStarting    Phase = "starting"     // the lock is taken; nothing written yet
	PhaseDeploying   Phase = "deploying"    // a new revision is applied and rolling out
	PhaseRollingBack Phase = "rolling-back" // the revision recorded is being rolled back from
	PhaseDone        Phase = "done"         // nothing left to do
	// PhaseSwitched: traffic was switched to the colour recorded, which is in its grace period
	// with the previous colour warm (blue-green).
	PhaseSwitched Phase = "switched"
	// PhaseAwaitingPromotion: a deploy stopped on purpose before its switch, for a later run
	// with mode promote or abort.
	PhaseAwaitingPromotion Phase = "awaiting-promotion"
)

// Unfinished reports whether a run that stopped in this phase left work in flight that the
// next run must finish (a rollout to judge, a rollback to complete). A phase a run stops in on
// purpose (done; later, waiting for promotion) is not.
func (p Phase) Unfinished() bool {
	return p == PhaseDeploying || p == PhaseRollingBack || p == PhaseSwitched
}

// ErrLockLost means the run can no longer be sure it holds the release's lock: it must stop
// writing.
var ErrLockLost = errors.New("lost the release lock")

// Previous is what the lock said before this run took it: who held it, its last phase and
// revision, and whether the holder had stopped renewing (a run that died) rather than
// freeing it.
type Previous struct {
	Holder, Revision string
	Phase            Phase
	Expired          bool
	// Notes are the Lease's shepherd.io/ annotations (the strategy's state).
	Notes map[string]string
}

// Lock is a held per-release Lease, renewed in the background until Release.
type Lock struct {
	client   kubernetes.Interface
	ns, name string
	holder   string
	now      func() time.Time // the renew times written, and how long another holder's Lease went unchanged
	seen     observation
	// Previous is the lock's state before this run took it.
	Previous Previous

	mu    sync.Mutex // guards lease; held across an update
	lease *coordinationv1.Lease
	stop  chan struct{}
	done  chan struct{}
	// lastRenew is the time of the last successful write (unix nanoseconds); read without mu,
	// so a hanging update cannot delay the loss check.
	lastRenew atomic.Int64
	lostMu    sync.Mutex // guards lost and lostErr
	lost      chan struct{}
	lostErr   error
}

// LockName is the Lease name for a release.
func LockName(release string) string { return "shepherd-" + release }

// Acquire takes the release's Lease for holder, waiting up to wait while a live run holds it.
// It fails naming the holder. An expired Lease is taken over: one this run has seen go
// unrenewed for its LeaseDuration on its own clock (never by comparing the holder's renew
// time with this clock: the two machines' clocks may differ), or whose holder is provably dead.
func Acquire(ctx context.Context, cs kubernetes.Interface, ns, release, holder string, wait time.Duration) (*Lock, error) {
	return AcquireAt(ctx, cs, ns, release, holder, wait, time.Now)
}

// AcquireAt is Acquire on the clock now: the renew times this holder writes, and the clock by
// which it judges how long another holder's Lease has gone unchanged.
func AcquireAt(ctx context.Context, cs kubernetes.Interface, ns, release, holder string, wait time.Duration, now func() time.Time) (*Lock, error) {
	l := &Lock{client: cs, ns: ns, name: LockName(release), holder: holder, now: now}
	deadline := time.Now().Add(wait)
	for {
		sent := time.Now()
		ok, current, err := l.try(ctx, release)
		if err != nil {
			return nil, err
		}
		if ok {
			l.stop, l.done, l.lost = make(chan struct{}), make(chan struct{}), make(chan struct{})
			l.lastRenew.Store(sent.UnixNano())
			go l.renew()
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("release %s is locked by another run: %s (since %s, last seen renewed %s ago); waited %s (lock_timeout; a lock its holder stops renewing is taken over once seen unrenewed for %s)",
				release, orUnknown(ptr.Deref(current.Spec.HolderIdentity, "")), timeOf(current.Spec.AcquireTime),
				l.unchangedFor().Round(time.Second), wait, durationOf(current))
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
	now := metav1.NewMicroTime(l.now())
	cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: l.name, Labels: map[string]string{LabelRelease: release},
				Annotations: map[string]string{AnnotationRun: l.holder, AnnotationPhase: string(PhaseStarting), AnnotationProcess: thisProcess()}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &l.holder, LeaseDurationSeconds: ptr.To(int32(LeaseDuration.Seconds())),
				AcquireTime: &now, RenewTime: &now},
		}
		created, err := leases.Create(ctx, lease, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) { // another run created it first: name that run
			if cur, gerr := leases.Get(ctx, l.name, metav1.GetOptions{}); gerr == nil {
				return false, cur, nil
			}
			return false, &coordinationv1.Lease{}, nil
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
	if holder != "" && holder != l.holder && !provablyDead(cur.Annotations[AnnotationProcess]) && !l.seen.expired(cur, l.now()) {
		return false, cur, nil
	}
	next := cur.DeepCopy()
	l.Previous = Previous{Holder: holder, Phase: Phase(cur.Annotations[AnnotationPhase]), Revision: cur.Annotations[AnnotationRev],
		Expired: holder != "" && holder != l.holder, Notes: notes(cur)}
	if l.Previous.Expired {
		next.Spec.LeaseTransitions = ptr.To(ptr.Deref(cur.Spec.LeaseTransitions, 0) + 1)
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	next.Annotations[AnnotationRun] = l.holder
	next.Annotations[AnnotationPhase] = string(PhaseStarting)
	next.Annotations[AnnotationProcess] = thisProcess()
	for _, k := range requestNotes { // a request to the previous holder is not one to this run
		delete(next.Annotations, k)
	}
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

// expired is a one-look guess (Peek's) that a Lease's holder stopped renewing, by comparing its
// renew time with this clock. Taking a Lease over never relies on it (see observation).
func expired(l *coordinationv1.Lease, now time.Time) bool {
	return timeOf(l.Spec.RenewTime).Add(durationOf(l)).Before(now)
}

func durationOf(l *coordinationv1.Lease) time.Duration {
	return time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, int32(LeaseDuration.Seconds()))) * time.Second
}

// observation is another holder's Lease as this run last saw it change, and when, on this
// run's clock (as client-go's leader election does): the Lease has expired only when it has
// not changed for its LeaseDuration of this run's time. A run that first sees a Lease held
// waits that long before taking it, whatever renew time it carries, so clocks that differ
// between the holder's machine and this one cannot make a live Lease look expired.
type observation struct {
	record string
	at     time.Time
}

// unchangedFor is how long this run has seen the Lease unchanged.
func (l *Lock) unchangedFor() time.Duration {
	if l.seen.record == "" {
		return 0
	}
	return l.now().Sub(l.seen.at)
}

func (o *observation) expired(le *coordinationv1.Lease, now time.Time) bool {
	rec := fmt.Sprintf("%s|%s|%s", ptr.Deref(le.Spec.HolderIdentity, ""), timeOf(le.Spec.RenewTime).UTC().Format(time.RFC3339Nano), le.ResourceVersion)
	if rec != o.record {
		o.record, o.at = rec, now
		return false
	}
	return now.Sub(o.at) >= durationOf(le)
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

// renew keeps the lease fresh every RenewEvery. When a renewal finds another holder, or no
// renewal has succeeded for SafeFor, the lock is lost: Lost fires and every later write is
// refused, before the Lease could expire and another run take it.
func (l *Lock) renew() {
	defer close(l.done)
	t := time.NewTicker(RenewEvery)
	defer t.Stop()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-check.C:
			if since := time.Since(time.Unix(0, l.lastRenew.Load())); since > SafeFor {
				_ = l.markLost(fmt.Errorf("%w: no renewal for %s (the API server did not answer); stopped writing before the lock could expire after %s", ErrLockLost, since.Round(time.Second), LeaseDuration))
				return
			}
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), RenewEvery)
			err := l.update(ctx, func(le *coordinationv1.Lease) {
				now := metav1.NewMicroTime(l.now())
				le.Spec.RenewTime = &now
			})
			cancel()
			if errors.Is(err, ErrLockLost) {
				return
			}
		}
	}
}

// markLost records why the lock is lost and fires Lost (once); it returns the first reason.
func (l *Lock) markLost(err error) error {
	l.lostMu.Lock()
	defer l.lostMu.Unlock()
	if l.lostErr == nil {
		l.lostErr = err
		close(l.lost)
	}
	return l.lostErr
}

// Recorded is the phase (and revision) last recorded on the Lease by this run.
func (l *Lock) Recorded() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.lease.Annotations[AnnotationPhase]
	if r := l.lease.Annotations[AnnotationRev]; r != "" {
		p += " revision " + r
	}
	return p
}

// Lost is closed when the run can no longer be sure it holds the lock; Err says why.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err is why the lock was lost, or nil while it is held.
func (l *Lock) Err() error {
	l.lostMu.Lock()
	defer l.lostMu.Unlock()
	return l.lostErr
}

// SetPhase records what the run is doing, on the Lease, so a later run can tell where an
// interrupted one stopped.
func (l *Lock) SetPhase(ctx context.Context, phase Phase, revision int) error {
	return l.SetState(ctx, phase, revision, nil)
}

// SetState is SetPhase that also records a strategy's notes (shepherd.io/ annotations; an
// empty value removes one).
func (l *Lock) SetState(ctx context.Context, phase Phase, revision int, notes map[string]string) error {
	return l.SetStateIf(ctx, phase, revision, notes, func(map[string]string) error { return nil })
}

// SetStateIf is SetState that first checks the Lease's annotations as stored (re-read on a
// conflict): when check fails, nothing is written and its error returned. A note another run
// added (Annotate) always conflicts with this run's cached copy, so check sees it.
func (l *Lock) SetStateIf(ctx context.Context, phase Phase, revision int, notes map[string]string, check func(map[string]string) error) error {
	var failed error
	err := l.update(ctx, func(le *coordinationv1.Lease) {
		if failed = check(le.Annotations); failed != nil {
			return
		}
		le.Annotations[AnnotationPhase] = string(phase)
		if revision > 0 {
			le.Annotations[AnnotationRev] = fmt.Sprint(revision)
		}
		for k, v := range notes {
			if v == "" {
				delete(le.Annotations, k)
			} else {
				le.Annotations[k] = v
			}
		}
	})
	if failed != nil {
		return failed
	}
	return err
}

// Note reads one of the Lease's annotations as last written or read by this run (a note
// another run added shows after the next renewal, within RenewEvery).
func (l *Lock) Note(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lease.Annotations[key]
}

func notes(le *coordinationv1.Lease) map[string]string {
	out := map[string]string{}
	for k, v := range le.Annotations {
		out[k] = v
	}
	return out
}

// LeaseState is a release's Lease as another run sees it without taking it.
type LeaseState struct {
	Holder string
	// Live: the holder is renewing it (a run is working on the release now).
	Live  bool
	Phase Phase
	Notes map[string]string
}

// Peek reads the release's Lease without taking it (nil, nil when there is none).
func Peek(ctx context.Context, cs kubernetes.Interface, ns, release string) (*LeaseState, error) {
	cur, err := cs.CoordinationV1().Leases(ns).Get(ctx, LockName(release), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, Explain(err)
	}
	h := ptr.Deref(cur.Spec.HolderIdentity, "")
	return &LeaseState{Holder: h, Live: h != "" && !expired(cur, time.Now()), Phase: Phase(cur.Annotations[AnnotationPhase]),
		Notes: notes(cur)}, nil
}

// Annotate adds notes to the release's Lease without taking it: how a run that may act while
// another holds the lock (a blue-green switch back) tells the holder what it did. The
// holder's next renewal picks the notes up (its update re-reads on conflict).
func Annotate(ctx context.Context, cs kubernetes.Interface, ns, release string, add map[string]string) error {
	leases := cs.CoordinationV1().Leases(ns)
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := leases.Get(ctx, LockName(release), metav1.GetOptions{})
		if err != nil {
			return Explain(err)
		}
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		for k, v := range add {
			cur.Annotations[k] = v
		}
		_, err = leases.Update(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return Explain(err)
		}
	}
	return fmt.Errorf("annotate lock %s: too many conflicts", LockName(release))
}

func (l *Lock) update(ctx context.Context, mutate func(*coordinationv1.Lease)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, RenewEvery)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		next := l.lease.DeepCopy()
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		mutate(next)
		sent := time.Now() // before the write: the holder's safe window never outlasts what others see
		updated, err := l.client.CoordinationV1().Leases(l.ns).Update(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			l.lease = updated
			l.lastRenew.Store(sent.UnixNano())
			return nil
		}
		if apierrors.IsNotFound(err) {
			return l.markLost(fmt.Errorf("%w: the Lease %s was deleted by someone else; stopped writing", ErrLockLost, l.name))
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		cur, gerr := l.client.CoordinationV1().Leases(l.ns).Get(ctx, l.name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if h := ptr.Deref(cur.Spec.HolderIdentity, ""); h != l.holder {
			return l.markLost(fmt.Errorf("%w: %s now holds it; stopped writing", ErrLockLost, orUnknown(h)))
		}
		l.lease = cur
	}
	return fmt.Errorf("update lock %s: too many conflicts", l.name)
}

// Release stops renewing and frees the Lease, keeping it as a record with phase (the last
// recorded phase stays when phase is "": unfinished work for the next run to finish). A lost
// lock is not ours to free: Release then does nothing.
func (l *Lock) Release(ctx context.Context, phase Phase) error {
	close(l.stop)
	<-l.done
	if l.Err() != nil {
		return nil
	}
	return l.update(ctx, func(le *coordinationv1.Lease) {
		le.Spec.HolderIdentity = nil
		if phase != "" {
			le.Annotations[AnnotationPhase] = string(phase)
		}
	})
}
