package bluegreen

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Rollback is mode rollback on a blue-green release: a switch back to the other colour
// (scaled up first, watched, when it is at zero), verified for verify_duration; the colour left
// goes to zero and its revision is marked failed with the reason.
func (m *Modes) Rollback(ctx context.Context, hist []*helmrelease.Release) {
	c := m.base()
	cfg := c.cfg
	if m.undone != "" { // finishing the interrupted run's work was this rollback
		c.out().Status, c.out().ActiveColor = outcome.RolledBack, m.undone
		c.out().Message = fmt.Sprintf("%s: the interrupted run's release was taken back: %s", cfg.Release, c.out().Recovered)
		return
	}
	if cfg.Revision > 0 {
		c.fail(ctx, "rollback", "", "%s: release %s is blue-green: it rolls back by switching to its other colour; leave revision empty (nothing was changed)", config.InRevision, cfg.Release)
		return
	}
	if c.prev.Phase == kube.PhaseAwaitingPromotion {
		m.AbortAwaiting(ctx)
		if c.out().Status == outcome.Aborted {
			c.out().Status = outcome.RolledBack
		}
		return
	}
	p, ok := c.planSwitchBack(ctx, hist)
	if !ok {
		return
	}
	active, target, toRev, fromRev, c := p.active, p.target, p.toRev, p.fromRev, p.c
	c.event(ctx, "rollback", outcome.Info, "switching %s back from %s (revision %d) to %s (revision %d): %s", cfg.Release, active, fromRev, target, toRev, c.out().Reason)
	if err := c.state(ctx, kube.PhaseRollingBack, c.rev, c.colorNotes(active, target)); err != nil {
		c.fail(ctx, "rollback", "", "%v; nothing was changed", err)
		return
	}
	sig, res, err := SwitchBack(ctx, c, target, active, cfg.VerifyDuration)
	switch {
	case err != nil:
		c.s.Unfinished()
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		c.fail(ctx, "rollback", "", "the switch back to %s did not finish: %v; the release lock keeps phase rolling-back, so the next Shepherd run of %s finishes it", target, kube.Explain(err), cfg.Release)
	case sig != nil:
		res.Signals = append([]diagnose.Signal{*sig}, res.Signals...)
		reason, why := c.s.Diagnose(ctx, &res, "switch back", "", "")
		c.fail(ctx, "verify", reason, "%s (revision %d) did not verify after the switch back: %s", target, toRev, why)
	default:
		if err := c.s.Mark(fromRev, helmrelease.StatusFailed, words.Truncate(fmt.Sprintf("Shepherd: rolled back (switched to %s): %s", target, c.out().Reason), 200)); err != nil {
			c.event(ctx, "rollback", outcome.Warn, "could not mark revision %d failed: %v", fromRev, err)
		}
		c.restoreDeployed(target)
		c.out().Status, c.out().ActiveColor = outcome.RolledBack, string(target)
		c.out().Message = fmt.Sprintf("%s switched back from %s to %s (revision %d), verified: %s", cfg.Release, active, target, toRev, c.out().Reason)
		c.event(ctx, "done", outcome.Info, "%s", c.out().Message)
		c.recordSwitch(ctx, c.layout.Deployments[target], target, toRev)
	}
}

// switchBack is what a colour rollback will do: from the live colour and its revision to the
// other colour and the good revision it holds.
type switchBack struct {
	active, target strategy.Color
	toRev, fromRev int
	c              *Cluster
}

// planSwitchBack reads the live colour and what the other holds, and asks for confirmation;
// false when there is nothing to switch back to or it was not confirmed (the run has failed,
// nothing was changed).
func (c *Cluster) planSwitchBack(ctx context.Context, hist []*helmrelease.Release) (switchBack, bool) {
	cfg, last := c.cfg, hist[len(hist)-1]
	l, err := ReadLayout(last.Manifest)
	if err != nil {
		c.fail(ctx, "rollback", "", "%v", err)
		return switchBack{}, false
	}
	active, err := c.liveColor(ctx, l)
	if err != nil {
		c.fail(ctx, "rollback", "", "%v (nothing was changed)", err)
		return switchBack{}, false
	}
	target := Next(active)
	toRev, fromRev := revisionOf(hist, target, true), revisionOf(hist, active, false)
	switch {
	case active == "":
		c.fail(ctx, "rollback", "", "release %s takes no traffic yet: nothing to roll back (nothing was changed)", cfg.Release)
		return switchBack{}, false
	case len(l.Deployments[target]) == 0 || toRev == 0:
		c.fail(ctx, "rollback", "", "release %s has no good version on %s to switch back to (live: %s); nothing was changed", cfg.Release, target, active)
		return switchBack{}, false
	}
	c.out().RollbackRevision, c.out().ActiveColor = toRev, string(active)
	cc := c.on(l, max(fromRev, last.Version), active)
	if c.confirm != nil && !c.confirm(ctx, outcome.RollbackPlan{Release: cfg.Release, Namespace: cfg.Namespace, From: fromRev, To: toRev, Verify: cfg.VerifyDuration,
		FromColor: string(active), ToColor: string(target), FromImages: release.Images(release.ManifestOf(hist, fromRev)), ToImages: release.Images(release.ManifestOf(hist, toRev))}) {
		c.fail(ctx, "rollback", "", "rollback not confirmed: nothing was changed")
		return switchBack{}, false
	}
	return switchBack{active: active, target: target, toRev: toRev, fromRev: fromRev, c: cc}, true
}

// recordSwitch puts a Kubernetes Event on the colour's Deployments saying who switched back and why.
func (c *Cluster) recordSwitch(ctx context.Context, deployments []string, to strategy.Color, rev int) {
	msg := words.Truncate(fmt.Sprintf("Shepherd switched %s back to %s (revision %d): %s", c.cfg.Release, to, rev, words.OrDefault(c.out().Reason, "no reason given")), 1000)
	for _, name := range deployments {
		// Best effort: the Event is for people reading the Deployment; the outcome says it too.
		_ = kube.RecordEvent(ctx, c.typed(), c.ns(), "Deployment", name, "Normal", "ShepherdRollback", msg)
	}
}

// SwitchBackNow is mode rollback while another run holds a blue-green release in its grace
// period, the previous colour warm: it does not wait for the lock. It notes on the Lease who
// switches and why, checks the holder is still in its grace period, and switches the Services
// back; the holder notices within a second, scales its colour down and reports. It returns
// false when that is not the case (the rollback then takes the lock as usual).
func (m *Modes) SwitchBackNow(ctx context.Context) bool {
	c := m.base()
	cfg, cs := c.cfg, c.typed()
	st, err := kube.Peek(ctx, cs, cfg.Namespace, cfg.Release)
	if err != nil || st == nil || !st.Live || st.Phase != kube.PhaseSwitched || st.Notes[kube.AnnotationStrategy] != string(config.StrategyBlueGreen) {
		return false
	}
	to, left := strategy.Color(st.Notes[NoteFromColor]), strategy.Color(st.Notes[NoteColor])
	hist, err := c.s.History()
	if err != nil || len(hist) == 0 || to == "" || cfg.Revision > 0 {
		return false
	}
	last := hist[len(hist)-1]
	l, err := ReadLayout(last.Manifest)
	if err != nil || len(l.Deployments[to]) == 0 {
		return false
	}
	for _, name := range l.Deployments[to] { // warm: every replica ready
		d, err := cs.AppsV1().Deployments(cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas == 0 || d.Status.ReadyReplicas < *d.Spec.Replicas || d.Status.UpdatedReplicas < *d.Spec.Replicas {
			return false
		}
	}
	c.out().Reason = words.OrDefault(cfg.Reason, "no reason given")
	c.out().PreviousRevision, c.out().HistoryRead, c.out().RollbackRevision = last.Version, true, revisionOf(hist, to, true)
	if c.confirm != nil {
		plan := outcome.RollbackPlan{Release: cfg.Release, Namespace: cfg.Namespace, From: last.Version, To: c.out().RollbackRevision, Verify: 0,
			FromColor: string(left), ToColor: string(to), FromImages: release.Images(last.Manifest), ToImages: release.Images(release.ManifestOf(hist, c.out().RollbackRevision))}
		if !c.confirm(ctx, plan) {
			c.fail(ctx, "rollback", "", "rollback not confirmed: nothing was changed")
			return true
		}
	}
	owner := words.OrDefault(cfg.Owner, "shepherd")
	if err := kube.Annotate(ctx, cs, cfg.Namespace, cfg.Release, map[string]string{NoteSwitchedBy: owner, NoteSwitchReason: words.Truncate(c.out().Reason, 500)}); err != nil {
		return false
	}
	// The note is on the Lease: a holder that ends its grace period from now on sees it. Is it
	// still in its grace period (not already scaling the warm colour down)?
	if now, err := kube.Peek(ctx, cs, cfg.Namespace, cfg.Release); err != nil || now == nil || now.Holder != st.Holder || now.Phase != kube.PhaseSwitched {
		_ = kube.Annotate(context.WithoutCancel(ctx), cs, cfg.Namespace, cfg.Release, map[string]string{NoteSwitchedBy: "", NoteSwitchReason: ""})
		return false
	}
	c.event(ctx, "rollback", outcome.Info, "%s is in its grace period on %s under %s, %s warm: switching back now, without waiting for the lock: %s", cfg.Release, left, st.Holder, to, c.out().Reason)
	if err := c.switchServices(ctx, l, to); err != nil {
		c.fail(ctx, "switch", "", "%v; the run holding the release (%s) switches back when it notices", err, st.Holder)
		return true
	}
	c.out().Status, c.out().ActiveColor = outcome.RolledBack, string(to)
	c.out().Message = fmt.Sprintf("%s switched back from %s to %s (revision %d) at once: %s; %s, which held it in its grace period, scales %s down and marks revision %d failed",
		cfg.Release, left, to, c.out().RollbackRevision, c.out().Reason, st.Holder, left, last.Version)
	c.event(ctx, "done", outcome.Info, "%s", c.out().Message)
	c.recordSwitch(ctx, l.Deployments[to], to, c.out().RollbackRevision)
	return true
}

// Commit records that colour next, live, passed its grace period — unless another run switched
// traffic back meanwhile (by names it): the Lease is the one place both runs write, so exactly
// one of the two wins.
func (c *Cluster) Commit(ctx context.Context, rev int, next, from strategy.Color) (string, error) {
	notes := c.colorNotes(next, from)
	delete(notes, NoteSwitchedBy)
	notes[NoteActive] = string(next)
	err := c.s.RecordIf(ctx, kube.PhaseDone, rev, notes, func(ann map[string]string) error {
		if by := ann[NoteSwitchedBy]; by != "" {
			return &errSwitchedAway{by: by}
		}
		return nil
	})
	var away *errSwitchedAway
	if errors.As(err, &away) {
		return away.by, nil
	}
	return "", err
}

// Finish finishes the blue-green work an interrupted run left on revision rev, as the
// lock's phase and notes say: a colour left mid-deploy never took traffic (scaled to 0); a
// colour in its grace period keeps the traffic if it is healthy, else traffic goes back; a
// switch back is completed.
// who names the run that left the work; hist is the release's history. wrote: the error came
// after a write.
func (m *Modes) Finish(ctx context.Context, rev int, who string, hist []*helmrelease.Release) (wrote bool, err error) {
	err = m.finish(ctx, rev, who, hist)
	var we *wroteError
	if errors.As(err, &we) {
		return true, we.err
	}
	return false, err
}

// wroteError is an error after a write.
type wroteError struct{ err error }

func (e *wroteError) Error() string { return e.err.Error() }

func (m *Modes) finish(ctx context.Context, rev int, who string, hist []*helmrelease.Release) error {
	prev := m.Previous
	col, from := strategy.Color(prev.Notes[NoteColor]), strategy.Color(prev.Notes[NoteFromColor])
	last := hist[len(hist)-1]
	if last.Version != rev {
		return nil // someone has moved on since
	}
	c, err := m.colorCluster(last.Manifest, rev, col)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return &wroteError{err: fmt.Errorf("finishing the blue-green work %s left on revision %d: %w", who, rev, err)}
	}
	switch prev.Phase {
	case kube.PhaseDeploying:
		c.state(ctx, kube.PhaseRollingBack, rev, c.colorNotes(col, from))
		if err := c.ScaleDown(ctx, col); err != nil {
			return fail(err)
		}
		strategy.MarkFailedIfLive(c.s, rev, hist, fmt.Sprintf("Shepherd: failed; %s stopped before its checks passed", who))
		c.restoreDeployed(from)
		c.recovered(ctx, outcome.Warn, "revision %d on %s, left mid-deploy by %s, never took traffic: scaled it to 0, marked it failed", rev, col, who)
		return nil
	case kube.PhaseSwitched:
		wctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		res, werr := c.s.Watch(wctx, release.Workloads{Deployments: c.layout.Deployments[col]}, time.Time{})
		cancel()
		if werr != nil && (ctx.Err() != nil || !errors.Is(werr, context.DeadlineExceeded)) {
			return fmt.Errorf("could not check revision %d on %s, left in its grace period by %s: %w", rev, col, who, werr)
		}
		if res.Ready || from == "" {
			if err := c.switchServices(ctx, c.layout, col); err != nil { // a switch cut short
				return fail(err)
			}
			c.recovered(ctx, outcome.Info, "revision %d on %s, left in its grace period by %s, is healthy: it keeps the traffic (%s stays warm)", rev, col, who, words.OrDefault(string(from), "nothing"))
			return nil
		}
	}
	return c.takeColorsBack(ctx, rev, col, from, who, hist)
}

// takeColorsBack finishes an interrupted run's switch back from col to from: from Ready at its
// count first (scaled up when it is at zero), then the switch, then col to zero.
func (c *Cluster) takeColorsBack(ctx context.Context, rev int, col, from strategy.Color, who string, hist []*helmrelease.Release) error {
	prev := c.prev
	fail := func(err error) error {
		return &wroteError{err: fmt.Errorf("finishing the blue-green work %s left on revision %d: %w", who, rev, err)}
	}
	if from == "" {
		c.recovered(ctx, outcome.Warn, "revision %d on %s, left by %s (phase %s), has no earlier colour to go back to", rev, col, who, prev.Phase)
		return nil
	}
	if err := c.state(ctx, kube.PhaseRollingBack, rev, c.colorNotes(col, from)); err != nil {
		return fail(err)
	}
	// Recovery trusts only what it checks: from serves again only once it is Ready at its
	// count (an interrupted rollback may have left it scaling up from zero).
	res, err := c.ScaleUp(ctx, from)
	switch {
	case err != nil:
		return fail(err)
	case !res.Ready:
		return fail(fmt.Errorf("%s did not come back ready (%s); traffic stays on %s", from, res.Status, col))
	}
	if err := c.switchServices(ctx, c.layout, from); err != nil {
		return fail(err)
	}
	if err := c.ScaleDown(ctx, col); err != nil {
		return fail(err)
	}
	strategy.MarkFailedIfLive(c.s, rev, hist, fmt.Sprintf("Shepherd: failed; %s's switch back to %s was finished", who, from))
	c.restoreDeployed(from)
	*c.undone = string(from)
	c.recovered(ctx, outcome.Warn, "revision %d on %s, left by %s (phase %s), is not serving healthily: traffic is back on %s, %s scaled to 0", rev, col, who, prev.Phase, from, col)
	return nil
}
