// Package bluegreen is the blue-green strategy: the new version runs as the idle colour beside
// the live one, is checked (fail-fast watch, smoke tests) while it takes no traffic, takes it
// in one switch of the Services' selectors, and is watched for a grace period with the old
// colour warm. It owns its flow (Strategy, over Colors), its cluster half (Cluster, over the
// engine's strategy.Session), its post-renderer (Colorize), its Lease notes and labels, and
// its modes (promote, abort, the rollback that is a switch, finishing an interrupted run).
package bluegreen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Colors is what blue-green needs of the cluster beyond Cluster. Every write is recorded on
// the release's Lease (phase, colour, the colour it replaces), so a later run can finish or
// undo it.
type Colors interface {
	strategy.Cluster
	// Active is the colour live traffic goes to, read from the cluster ("" before the first
	// blue-green deploy).
	Active(ctx context.Context) (strategy.Color, error)
	// UpgradeColor applies the new version as colour next at full replicas, active's
	// Deployments kept as they are, the Services still on active and their -preview twins on
	// next. Revision.Workloads are next's workloads only.
	UpgradeColor(ctx context.Context, next, active strategy.Color) (strategy.Revision, error)
	// Smoke runs the smoke tests on colour c, before it takes traffic (nil: passed, or none).
	Smoke(ctx context.Context, c strategy.Color) *diagnose.Signal
	// Switch points the Services at colour to, the switch of revision rev (0: a rollback's).
	Switch(ctx context.Context, to, from strategy.Color, rev int) error
	// Steady watches colour c, live, for d: a signal when a pod restarts or goes unready;
	// by names the run that switched traffic away meanwhile (a rollback does not wait for the
	// lock); err when ctx ended or the watch failed.
	Steady(ctx context.Context, c strategy.Color, d time.Duration) (sig *diagnose.Signal, by string, err error)
	// Commit records that colour next, live, passed its grace period, unless another run
	// switched traffic back meanwhile (by names it; then nothing is recorded).
	Commit(ctx context.Context, rev int, next, from strategy.Color) (by string, err error)
	// ScaleDown takes colour c's Deployments to zero replicas (kept, for a quick way back).
	ScaleDown(ctx context.Context, c strategy.Color) error
	// ScaleUp brings colour c back to the replicas it had, and watches it ready.
	ScaleUp(ctx context.Context, c strategy.Color) (health.Result, error)
	// Pause records that revision rev waits on colour next for mode promote or abort.
	Pause(ctx context.Context, rev int, next, from strategy.Color)
	// Diagnose gathers the evidence of f while its pods still exist.
	Diagnose(ctx context.Context, f *strategy.Failure)
	// Settle records how the undo of f went (err: it did not finish).
	Settle(ctx context.Context, f *strategy.Failure, err error)
}

// Strategy deploys the new version as the idle colour next to the live one, checks it
// (fail-fast watch, smoke tests) while it takes no traffic, switches the Services to it, watches
// it for the grace period with the old colour warm, then scales the old colour to zero. Undo is
// a switch back (when traffic moved) and the new colour to zero: live traffic only ever goes to a
// colour that passed its checks.
type Strategy struct {
	// AutoPromote: switch once the checks pass; false stops before the switch (Paused).
	AutoPromote bool
	// Grace is how long the new colour is watched, live, before the old one is scaled down.
	Grace time.Duration
}

var _ strategy.Strategy = Strategy{}

// Name is blue-green.
func (Strategy) Name() config.Strategy { return config.StrategyBlueGreen }

// Deploy runs the colour's steps up to the switch, then Promote (or stops, Paused).
func (b Strategy) Deploy(ctx context.Context, c strategy.Cluster) strategy.Result {
	cc, ok := c.(Colors)
	if !ok {
		return strategy.Result{Failure: &strategy.Failure{Why: "blue-green: this orchestrator cannot switch colours"}}
	}
	active, err := cc.Active(ctx)
	if err != nil {
		return strategy.Result{Failure: &strategy.Failure{Why: err.Error()}}
	}
	next := Next(active)
	since := c.Now()
	rev, err := cc.UpgradeColor(ctx, next, active)
	if err != nil {
		if rev.Number == 0 {
			return strategy.Result{Failure: &strategy.Failure{Why: err.Error()}}
		}
		return strategy.Result{Failure: &strategy.Failure{Revision: rev.Number, Since: since, Color: next, From: active,
			Why: fmt.Sprintf("the upgrade failed to apply: %v", err), Reason: diagnose.Config}}
	}
	f := &strategy.Failure{Revision: rev.Number, Since: since, Color: next, From: active}
	res, werr := c.Watch(ctx, rev.Workloads, since)
	switch {
	case ctx.Err() != nil:
		f.Result, f.Why = &res, fmt.Sprintf("the run was cancelled while %s rolled out (it took no traffic)", next)
		return strategy.Result{Failure: f}
	case werr != nil && !errors.Is(werr, context.DeadlineExceeded):
		f.Result, f.Why = &res, "watching the rollout failed: "+werr.Error()
		return strategy.Result{Failure: f}
	case !res.Ready:
		f.Result = &res
		return strategy.Result{Failure: f}
	}
	c.Info(ctx, "watch", "%s is up, taking no traffic yet: %s", next, res.Status)
	if sig := cc.Smoke(ctx, next); sig != nil {
		res.Ready, res.Signals = false, []diagnose.Signal{*sig}
		f.Result = &res
		if ctx.Err() != nil {
			f.Why = fmt.Sprintf("the run was cancelled during %s's smoke tests (it took no traffic)", next)
		}
		return strategy.Result{Failure: f}
	}
	if !b.AutoPromote {
		cc.Pause(ctx, rev.Number, next, active)
		return strategy.Result{Paused: true}
	}
	return strategy.Result{Failure: b.Promote(ctx, cc, rev.Number, next, active)}
}

// Promote switches traffic to next (the colour of revision rev, checked and warm), checks
// health_url, watches next for the grace period with from warm, then scales from to zero. It
// returns what went wrong, for Undo.
func (b Strategy) Promote(ctx context.Context, cc Colors, rev int, next, from strategy.Color) *strategy.Failure {
	f := &strategy.Failure{Revision: rev, Since: cc.Now(), Color: next, From: from}
	if err := cc.Switch(ctx, next, from, rev); err != nil {
		f.Switched, f.Why = true, "switching traffic failed: "+err.Error() // some Services may have moved
		return f
	}
	f.Switched = true
	if sig := cc.CheckHealth(ctx); sig != nil {
		f.Result = &health.Result{Signals: []diagnose.Signal{*sig}}
		return f
	}
	sig, by, err := cc.Steady(ctx, next, b.Grace)
	switch {
	case by != "":
		f.By, f.Why = by, "traffic was switched back to "+string(from)+" by "+by
		return f
	case ctx.Err() != nil:
		f.Why = fmt.Sprintf("the run was cancelled during %s's grace period", next)
		return f
	case err != nil:
		f.Why = "watching the grace period failed: " + err.Error()
		return f
	case sig != nil:
		f.Result = &health.Result{Signals: []diagnose.Signal{*sig}}
		return f
	}
	if by, err := cc.Commit(ctx, rev, next, from); by != "" {
		f.By, f.Why = by, "traffic was switched back to "+string(from)+" by "+by
		return f
	} else if err != nil { // a rollback may be switching back to from: keep it up
		cc.Warn(ctx, "grace", "could not record the end of the grace period (%v); %s stays warm", err, from)
		return nil
	}
	if from != "" {
		if err := cc.ScaleDown(ctx, from); err != nil {
			cc.Warn(ctx, "scale-down", "%s stays up: %v", from, err)
		}
	}
	return nil
}

// Undo takes traffic back to the colour that served before f (at once, when it had moved),
// diagnoses f, and scales f's colour to zero. A first install has nothing to go back to: its
// colour keeps serving and the failure is reported.
func (Strategy) Undo(ctx context.Context, c strategy.Cluster, f *strategy.Failure) {
	cc, ok := c.(Colors)
	if !ok {
		return
	}
	var err error
	if f.Switched && f.From != "" && f.By == "" {
		err = switchToReady(ctx, cc, f.From, f.Color)
	}
	cc.Diagnose(ctx, f)
	if err == nil && (f.From != "" || !f.Switched) {
		err = cc.ScaleDown(ctx, f.Color)
	}
	cc.Settle(ctx, f, err)
}

// switchToReady switches traffic from colour from to colour to once to is Ready at its count
// (warm: at once; scaled down: scaled up and watched first). A colour that does not come back
// ready takes no traffic: from keeps serving, and the error says so.
func switchToReady(ctx context.Context, cc Colors, to, from strategy.Color) error {
	res, err := cc.ScaleUp(ctx, to)
	switch {
	case err != nil:
		return err
	case !res.Ready:
		return fmt.Errorf("%s did not come back ready (%s), so traffic stays on %s", to, res.Status, from)
	}
	return cc.Switch(ctx, to, from, 0)
}

// SwitchBack is a blue-green rollback: colour to (scaled up first, watched, when it is at zero)
// takes the traffic back from colour from, is watched for verify, and from goes to zero.
func SwitchBack(ctx context.Context, cc Colors, to, from strategy.Color, verify time.Duration) (*diagnose.Signal, health.Result, error) {
	res, err := cc.ScaleUp(ctx, to)
	if err != nil {
		return nil, res, err
	}
	if !res.Ready {
		if len(res.Signals) > 0 {
			return &res.Signals[0], res, nil
		}
		return &diagnose.Signal{Category: diagnose.Deadline, Object: string(to), Reason: "NotReady", Message: res.Status}, res, nil
	}
	if err := cc.Switch(ctx, to, from, 0); err != nil {
		return nil, res, err
	}
	if sig := cc.CheckHealth(ctx); sig != nil {
		return sig, res, nil
	}
	sig, by, err := cc.Steady(ctx, to, verify)
	switch {
	case by != "":
		return nil, res, fmt.Errorf("traffic was switched again by %s during the verification", by)
	case err != nil || sig != nil:
		return sig, res, err
	}
	if err := cc.ScaleDown(ctx, from); err != nil {
		cc.Warn(ctx, "scale-down", "%s stays up: %v", from, err)
	}
	return nil, res, nil
}
