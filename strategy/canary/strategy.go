// Package canary is the canary strategy: the new version runs as a canary track beside the
// stable one, traffic shifts to it stage by stage through a Router (the replica split, or
// exact weights on a Gateway API HTTPRoute), each stage judged on the canary's pods and
// metrics, and a failing stage aborts. It owns its flow (Strategy, over Tracks), its cluster
// half (Cluster, over the engine's strategy.Session), its post-renderer (Canarize,
// TrackServices), its planning (PlanCanary, PlanRouted), its Lease notes and labels, and its
// modes (promote, abort, rollback, finishing an interrupted run).
package canary

import (
	"context"
	"errors"
	"fmt"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Tracks is what the canary needs of the cluster beyond Cluster: a stable track (the chart's
// own Deployments) and a canary track (<name>-canary) that the same Services select, scaled
// stage by stage. Every write is recorded on the release's Lease, so a later run can finish or
// undo it.
type Tracks interface {
	strategy.Cluster
	// FirstInstall: the release does not exist yet, so there is no stable track to compare
	// with; the new version is installed as a rolling deploy would.
	FirstInstall() bool
	// Stages is how many stages the plan has.
	Stages() int
	// UpgradeCanary applies the new version as the canary track at zero replicas, the stable
	// track kept as it is (a Helm revision).
	UpgradeCanary(ctx context.Context) (strategy.Revision, error)
	// SetStage scales the tracks to stage i (0-based): the canary up, watched until ready
	// (fail fast), then the stable track down.
	SetStage(ctx context.Context, i int) (health.Result, error)
	// Judge holds stage i for the interval, judging the canary's pods and metrics: a signal
	// when it fails (category analysis for metrics), err when ctx ended or the watch failed.
	Judge(ctx context.Context, i int) (*diagnose.Signal, error)
	// Pause records that the canary of revision rev waits at stage i for mode promote or abort.
	Pause(ctx context.Context, rev, i int)
	// PromoteStable upgrades the stable track to the canary's version (a Helm revision) and
	// returns it for watching; the canary keeps serving meanwhile.
	PromoteStable(ctx context.Context) (strategy.Revision, error)
	// Retire takes the canary track to zero replicas (kept, for a quick way back).
	Retire(ctx context.Context) error
	// Abort takes the canary track to zero and the stable track back to its replicas, and
	// watches the stable track ready.
	Abort(ctx context.Context, f *strategy.Failure) error
	// Diagnose gathers the evidence of f.
	Diagnose(ctx context.Context, f *strategy.Failure)
	// Settle records how the undo of f went (err: it did not finish).
	Settle(ctx context.Context, f *strategy.Failure, err error)
}

// Strategy runs the new version as a canary track beside the stable one and shifts traffic to it
// through stages by replica split, each held and judged on the canary's pods and live metrics;
// a failing stage aborts (the canary to zero, the stable track back to full), and when every
// stage passes the stable track is upgraded to the new version and the canary goes to zero.
type Strategy struct {
	// AutoPromote: promote when the stages pass; false stops after the last stage below 100%
	// (Paused), the canary serving at that weight, for mode promote or abort.
	AutoPromote bool
}

var _ strategy.Strategy = Strategy{}

// Name is canary.
func (Strategy) Name() config.Strategy { return config.StrategyCanary }

// Deploy applies the canary and runs its stages (a first install is a rolling deploy: there
// is no stable version to compare with).
func (k Strategy) Deploy(ctx context.Context, c strategy.Cluster) strategy.Result {
	tc, ok := c.(Tracks)
	if !ok {
		return strategy.Result{Failure: &strategy.Failure{Why: "canary: this orchestrator cannot run tracks"}}
	}
	if tc.FirstInstall() {
		c.Info(ctx, "canary", "first install: there is no stable version to compare a canary with, so it is installed and watched as a rolling deploy")
		return strategy.Rolling{}.Deploy(ctx, c)
	}
	since := c.Now()
	rev, err := tc.UpgradeCanary(ctx)
	if err != nil {
		if rev.Number == 0 {
			return strategy.Result{Failure: &strategy.Failure{Why: err.Error()}}
		}
		return strategy.Result{Failure: &strategy.Failure{Revision: rev.Number, Since: since, Canary: true, Stage: -1,
			Why: fmt.Sprintf("the canary failed to apply: %v", err), Reason: diagnose.Config}}
	}
	return k.Resume(ctx, tc, rev.Number, 0)
}

// Resume runs revision rev's stages from stage from on, then promotes (or stops, Paused).
func (k Strategy) Resume(ctx context.Context, tc Tracks, rev, from int) strategy.Result {
	n := tc.Stages()
	for i := from; i < n; i++ {
		if i == n-1 && !k.AutoPromote {
			tc.Pause(ctx, rev, i-1)
			return strategy.Result{Paused: true}
		}
		f := &strategy.Failure{Revision: rev, Since: tc.Now(), Canary: true, Stage: i}
		res, err := tc.SetStage(ctx, i)
		switch {
		case ctx.Err() != nil:
			f.Result, f.Why, f.Cancelled = &res, fmt.Sprintf("the run was cancelled while the canary scaled to stage %d", i+1), true
			return strategy.Result{Failure: f}
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			f.Result, f.Why = &res, "scaling the canary failed: "+err.Error()
			return strategy.Result{Failure: f}
		case !res.Ready:
			f.Result = &res
			return strategy.Result{Failure: f}
		}
		sig, err := tc.Judge(ctx, i)
		switch {
		case sig != nil:
			f.Result = &health.Result{Signals: []diagnose.Signal{*sig}, Selector: res.Selector}
			return strategy.Result{Failure: f}
		case ctx.Err() != nil:
			f.Why, f.Cancelled = fmt.Sprintf("the run was cancelled during stage %d", i+1), true
			return strategy.Result{Failure: f}
		case err != nil:
			f.Why = "judging the stage failed: " + err.Error()
			return strategy.Result{Failure: f}
		}
	}
	return strategy.Result{Failure: k.promote(ctx, tc, rev)}
}

// promote upgrades the stable track to the canary's version and watches it; then the canary
// goes to zero.
func (Strategy) promote(ctx context.Context, tc Tracks, rev int) *strategy.Failure {
	since := tc.Now()
	prom, err := tc.PromoteStable(ctx)
	f := &strategy.Failure{Revision: prom.Number, Since: since, Canary: true, Promoting: true, Stage: tc.Stages() - 1}
	if err != nil {
		f.Why = "promoting the stable track failed: " + err.Error()
		if prom.Number == 0 { // nothing applied: the canary still serves at 100%; abort it
			f.Revision, f.Promoting = rev, false
		}
		return f
	}
	res, werr := tc.Watch(ctx, prom.Workloads, since)
	switch {
	case ctx.Err() != nil:
		f.Result, f.Why = &res, "the run was cancelled while the stable track rolled out the new version"
		return f
	case werr != nil && !errors.Is(werr, context.DeadlineExceeded):
		f.Result, f.Why = &res, "watching the promotion failed: "+werr.Error()
		return f
	case !res.Ready:
		f.Result = &res
		return f
	}
	if sig := tc.CheckHealth(ctx); sig != nil {
		f.Result = &health.Result{Signals: []diagnose.Signal{*sig}}
		return f
	}
	if err := tc.Retire(ctx); err != nil {
		tc.Warn(ctx, "promote", "the canary stays up: %v", err)
	}
	return nil
}

// Undo takes traffic off a failed canary: the stable track back to its replicas, Ready, then
// the canary to zero — first, when the failure is in the metrics or the run was cancelled (the
// canary serves while it is diagnosed otherwise, and a cancelled run has seconds left); after
// the diagnosis when its pods failed (they take no traffic, and their evidence goes with them). A failed promotion is rolled back through Helm, as a rolling
// deploy is; a first install's failure too.
func (Strategy) Undo(ctx context.Context, c strategy.Cluster, f *strategy.Failure) {
	tc, ok := c.(Tracks)
	if !ok || !f.Canary || f.Promoting {
		c.RollBack(ctx, f)
		return
	}
	var err error
	if f.Metrics() || f.Cancelled {
		err = tc.Abort(ctx, f)
		tc.Diagnose(ctx, f)
	} else {
		tc.Diagnose(ctx, f)
		err = tc.Abort(ctx, f)
	}
	tc.Settle(ctx, f, err)
}
