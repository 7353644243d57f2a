package deploy

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
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// rollbackColors is mode rollback on a blue-green release: a switch back to the other colour
// (scaled up first, watched, when it is at zero), verified for verify_duration; the colour left
// goes to zero and its revision is marked failed with the reason.
func (r *run) rollbackColors(ctx context.Context, hist []*helmrelease.Release) {
	cfg := r.cfg
	if r.colorsUndone != "" { // finishing the interrupted run's work was this rollback
		r.out.Status, r.out.ActiveColor = RolledBack, r.colorsUndone
		r.out.Message = fmt.Sprintf("%s: the interrupted run's release was taken back: %s", cfg.Release, r.out.Recovered)
		return
	}
	if cfg.Revision > 0 {
		r.fail(ctx, "rollback", "", "%s: release %s is blue-green: it rolls back by switching to its other colour; leave revision empty (nothing was changed)", config.InRevision, cfg.Release)
		return
	}
	if r.lock.Previous.Phase == kube.PhaseAwaitingPromotion {
		r.abort(ctx)
		if r.out.Status == Aborted {
			r.out.Status = RolledBack
		}
		return
	}
	p, ok := r.planSwitchBack(ctx, hist)
	if !ok {
		return
	}
	active, target, toRev, fromRev, c := p.active, p.target, p.toRev, p.fromRev, p.c
	r.event(ctx, "rollback", Info, "switching %s back from %s (revision %d) to %s (revision %d): %s", cfg.Release, active, fromRev, target, toRev, r.out.Reason)
	if err := r.state(ctx, kube.PhaseRollingBack, c.rev, r.colorNotes(active, target)); err != nil {
		r.fail(ctx, "rollback", "", "%v; nothing was changed", err)
		return
	}
	sig, res, err := strategy.SwitchBack(ctx, c, target, active, cfg.VerifyDuration)
	switch {
	case err != nil:
		r.unfinished = true
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		r.fail(ctx, "rollback", "", "the switch back to %s did not finish: %v; the release lock keeps phase rolling-back, so the next Shepherd run of %s finishes it", target, kube.Explain(err), cfg.Release)
	case sig != nil:
		res.Signals = append([]diagnose.Signal{*sig}, res.Signals...)
		reason, why := r.diagnose(ctx, &res, "switch back", "", "")
		r.fail(ctx, "verify", reason, "%s (revision %d) did not verify after the switch back: %s", target, toRev, why)
	default:
		if err := r.d.Helm.MarkFailed(cfg.Release, fromRev, words.Truncate(fmt.Sprintf("Shepherd: rolled back (switched to %s): %s", target, r.out.Reason), 200)); err != nil {
			r.event(ctx, "rollback", Warn, "could not mark revision %d failed: %v", fromRev, err)
		}
		r.restoreDeployed(target)
		r.out.Status, r.out.ActiveColor = RolledBack, string(target)
		r.out.Message = fmt.Sprintf("%s switched back from %s to %s (revision %d), verified: %s", cfg.Release, active, target, toRev, r.out.Reason)
		r.event(ctx, "done", Info, "%s", r.out.Message)
		r.recordSwitch(ctx, c.layout.Deployments[target], target, toRev)
	}
}

// switchBack is what a colour rollback will do: from the live colour and its revision to the
// other colour and the good revision it holds.
type switchBack struct {
	active, target strategy.Color
	toRev, fromRev int
	c              *cluster
}

// planSwitchBack reads the live colour and what the other holds, and asks for confirmation;
// false when there is nothing to switch back to or it was not confirmed (the run has failed,
// nothing was changed).
func (r *run) planSwitchBack(ctx context.Context, hist []*helmrelease.Release) (switchBack, bool) {
	cfg, last := r.cfg, hist[len(hist)-1]
	l, err := strategy.ReadLayout(last.Manifest)
	if err != nil {
		r.fail(ctx, "rollback", "", "%v", err)
		return switchBack{}, false
	}
	active, err := r.liveColor(ctx, l)
	if err != nil {
		r.fail(ctx, "rollback", "", "%v (nothing was changed)", err)
		return switchBack{}, false
	}
	target := strategy.Next(active)
	toRev, fromRev := revisionOf(hist, target, true), revisionOf(hist, active, false)
	switch {
	case active == "":
		r.fail(ctx, "rollback", "", "release %s takes no traffic yet: nothing to roll back (nothing was changed)", cfg.Release)
		return switchBack{}, false
	case len(l.Deployments[target]) == 0 || toRev == 0:
		r.fail(ctx, "rollback", "", "release %s has no good version on %s to switch back to (live: %s); nothing was changed", cfg.Release, target, active)
		return switchBack{}, false
	}
	r.out.RollbackRevision, r.out.ActiveColor = toRev, string(active)
	c := &cluster{r: r, layout: l, rev: max(fromRev, last.Version), deploying: active}
	if r.d.Confirm != nil && !r.d.Confirm(ctx, RollbackPlan{Release: cfg.Release, Namespace: cfg.Namespace, From: fromRev, To: toRev, Verify: cfg.VerifyDuration,
		FromColor: string(active), ToColor: string(target), FromImages: release.Images(release.ManifestOf(hist, fromRev)), ToImages: release.Images(release.ManifestOf(hist, toRev))}) {
		r.fail(ctx, "rollback", "", "rollback not confirmed: nothing was changed")
		return switchBack{}, false
	}
	return switchBack{active: active, target: target, toRev: toRev, fromRev: fromRev, c: c}, true
}

// recordSwitch puts a Kubernetes Event on the colour's Deployments saying who switched back and why.
func (r *run) recordSwitch(ctx context.Context, deployments []string, to strategy.Color, rev int) {
	msg := words.Truncate(fmt.Sprintf("Shepherd switched %s back to %s (revision %d): %s", r.cfg.Release, to, rev, words.OrDefault(r.out.Reason, "no reason given")), 1000)
	for _, name := range deployments {
		if err := kube.RecordEvent(ctx, r.d.Clients.Typed, r.cfg.Namespace, "Deployment", name, "Normal", "ShepherdRollback", msg); err != nil {
			r.d.Log.Debug("record event", "err", err)
		}
	}
}

// switchBackNow is mode rollback while another run holds a blue-green release in its grace
// period, the previous colour warm: it does not wait for the lock. It notes on the Lease who
// switches and why, checks the holder is still in its grace period, and switches the Services
// back; the holder notices within a second, scales its colour down and reports. It returns
// false when that is not the case (the rollback then takes the lock as usual).
func (r *run) switchBackNow(ctx context.Context) bool {
	cfg, cs := r.cfg, r.d.Clients.Typed
	st, err := kube.Peek(ctx, cs, cfg.Namespace, cfg.Release)
	if err != nil || st == nil || !st.Live || st.Phase != kube.PhaseSwitched || st.Notes[kube.AnnotationStrategy] != string(config.StrategyBlueGreen) {
		return false
	}
	to, left := strategy.Color(st.Notes[strategy.NoteFromColor]), strategy.Color(st.Notes[strategy.NoteColor])
	hist, err := r.d.Helm.History(cfg.Release)
	if err != nil || len(hist) == 0 || to == "" || cfg.Revision > 0 {
		return false
	}
	last := hist[len(hist)-1]
	l, err := strategy.ReadLayout(last.Manifest)
	if err != nil || len(l.Deployments[to]) == 0 {
		return false
	}
	for _, name := range l.Deployments[to] { // warm: every replica ready
		d, err := cs.AppsV1().Deployments(cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas == 0 || d.Status.ReadyReplicas < *d.Spec.Replicas || d.Status.UpdatedReplicas < *d.Spec.Replicas {
			return false
		}
	}
	r.out.Reason = words.OrDefault(cfg.Reason, "no reason given")
	r.out.PreviousRevision, r.out.HistoryRead, r.out.RollbackRevision = last.Version, true, revisionOf(hist, to, true)
	if r.d.Confirm != nil {
		plan := RollbackPlan{Release: cfg.Release, Namespace: cfg.Namespace, From: last.Version, To: r.out.RollbackRevision, Verify: 0,
			FromColor: string(left), ToColor: string(to), FromImages: release.Images(last.Manifest), ToImages: release.Images(release.ManifestOf(hist, r.out.RollbackRevision))}
		if !r.d.Confirm(ctx, plan) {
			r.fail(ctx, "rollback", "", "rollback not confirmed: nothing was changed")
			return true
		}
	}
	owner := words.OrDefault(cfg.Owner, "shepherd")
	if err := kube.Annotate(ctx, cs, cfg.Namespace, cfg.Release, map[string]string{strategy.NoteSwitchedBy: owner, strategy.NoteSwitchReason: words.Truncate(r.out.Reason, 500)}); err != nil {
		return false
	}
	// The note is on the Lease: a holder that ends its grace period from now on sees it. Is it
	// still in its grace period (not already scaling the warm colour down)?
	if now, err := kube.Peek(ctx, cs, cfg.Namespace, cfg.Release); err != nil || now == nil || now.Holder != st.Holder || now.Phase != kube.PhaseSwitched {
		_ = kube.Annotate(context.WithoutCancel(ctx), cs, cfg.Namespace, cfg.Release, map[string]string{strategy.NoteSwitchedBy: "", strategy.NoteSwitchReason: ""})
		return false
	}
	r.event(ctx, "rollback", Info, "%s is in its grace period on %s under %s, %s warm: switching back now, without waiting for the lock: %s", cfg.Release, left, st.Holder, to, r.out.Reason)
	if err := switchServices(ctx, r, l, to); err != nil {
		r.fail(ctx, "switch", "", "%v; the run holding the release (%s) switches back when it notices", err, st.Holder)
		return true
	}
	r.out.Status, r.out.ActiveColor = RolledBack, string(to)
	r.out.Message = fmt.Sprintf("%s switched back from %s to %s (revision %d) at once: %s; %s, which held it in its grace period, scales %s down and marks revision %d failed",
		cfg.Release, left, to, r.out.RollbackRevision, r.out.Reason, st.Holder, left, last.Version)
	r.event(ctx, "done", Info, "%s", r.out.Message)
	r.recordSwitch(ctx, l.Deployments[to], to, r.out.RollbackRevision)
	return true
}

// Commit records that colour next, live, passed its grace period — unless another run switched
// traffic back meanwhile (by names it): the Lease is the one place both runs write, so exactly
// one of the two wins.
func (c *cluster) Commit(ctx context.Context, rev int, next, from strategy.Color) (string, error) {
	r := c.r
	if r.lock == nil {
		return "", nil
	}
	notes := r.colorNotes(next, from)
	delete(notes, strategy.NoteSwitchedBy)
	notes[strategy.NoteActive] = string(next)
	err := r.lock.SetStateIf(ctx, kube.PhaseDone, rev, notes, func(ann map[string]string) error {
		if by := ann[strategy.NoteSwitchedBy]; by != "" {
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

// finishColors finishes the blue-green work an interrupted run left on revision rev, as the
// lock's phase and notes say: a colour left mid-deploy never took traffic (scaled to 0); a
// colour in its grace period keeps the traffic if it is healthy, else traffic goes back; a
// switch back is completed.
// who names the run that left the work; hist is the release's history.
func (r *run) finishColors(ctx context.Context, rev int, who string, hist []*helmrelease.Release) error {
	prev := r.lock.Previous
	col, from := strategy.Color(prev.Notes[strategy.NoteColor]), strategy.Color(prev.Notes[strategy.NoteFromColor])
	last := hist[len(hist)-1]
	if last.Version != rev {
		return nil // someone has moved on since
	}
	c, err := r.colorCluster(last.Manifest, rev, col)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return &finishError{error: fmt.Errorf("finishing the blue-green work %s left on revision %d: %w", who, rev, err)}
	}
	switch prev.Phase {
	case kube.PhaseDeploying:
		r.state(ctx, kube.PhaseRollingBack, rev, r.colorNotes(col, from))
		if err := c.ScaleDown(ctx, col); err != nil {
			return fail(err)
		}
		r.markFailedIfLive(rev, hist, fmt.Sprintf("Shepherd: failed; %s stopped before its checks passed", who))
		r.restoreDeployed(from)
		r.recovered(ctx, Warn, "revision %d on %s, left mid-deploy by %s, never took traffic: scaled it to 0, marked it failed", rev, col, who)
		return nil
	case kube.PhaseSwitched:
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		res, werr := c.Watch(wctx, release.Workloads{Deployments: c.layout.Deployments[col]}, time.Time{})
		cancel()
		if werr != nil && (ctx.Err() != nil || !errors.Is(werr, context.DeadlineExceeded)) {
			return fmt.Errorf("could not check revision %d on %s, left in its grace period by %s: %w", rev, col, who, werr)
		}
		if res.Ready || from == "" {
			if err := switchServices(ctx, r, c.layout, col); err != nil { // a switch cut short
				return fail(err)
			}
			r.recovered(ctx, Info, "revision %d on %s, left in its grace period by %s, is healthy: it keeps the traffic (%s stays warm)", rev, col, who, words.OrDefault(string(from), "nothing"))
			return nil
		}
	}
	return r.takeColorsBack(ctx, c, rev, col, from, who, hist)
}

// takeColorsBack finishes an interrupted run's switch back from col to from: from Ready at its
// count first (scaled up when it is at zero), then the switch, then col to zero.
func (r *run) takeColorsBack(ctx context.Context, c *cluster, rev int, col, from strategy.Color, who string, hist []*helmrelease.Release) error {
	prev := r.lock.Previous
	fail := func(err error) error {
		return &finishError{error: fmt.Errorf("finishing the blue-green work %s left on revision %d: %w", who, rev, err)}
	}
	if from == "" {
		r.recovered(ctx, Warn, "revision %d on %s, left by %s (phase %s), has no earlier colour to go back to", rev, col, who, prev.Phase)
		return nil
	}
	if err := r.state(ctx, kube.PhaseRollingBack, rev, r.colorNotes(col, from)); err != nil {
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
	if err := switchServices(ctx, r, c.layout, from); err != nil {
		return fail(err)
	}
	if err := c.ScaleDown(ctx, col); err != nil {
		return fail(err)
	}
	r.markFailedIfLive(rev, hist, fmt.Sprintf("Shepherd: failed; %s's switch back to %s was finished", who, from))
	r.restoreDeployed(from)
	r.colorsUndone = string(from)
	r.recovered(ctx, Warn, "revision %d on %s, left by %s (phase %s), is not serving healthily: traffic is back on %s, %s scaled to 0", rev, col, who, prev.Phase, from, col)
	return nil
}
