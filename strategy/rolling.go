package strategy

import (
	"context"
	"errors"
	"fmt"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Rolling is a Helm upgrade the workloads' controllers roll out in place (their own
// RollingUpdate), watched by Shepherd itself instead of Helm's --wait: upgrade → watch →
// health check. Undo is a Helm rollback to the last good revision, verified and cascading.
type Rolling struct{}

var _ Strategy = Rolling{}

// Name is rolling.
func (Rolling) Name() config.Strategy { return config.StrategyRolling }

// Deploy upgrades, watches the rollout and checks health_url.
func (Rolling) Deploy(ctx context.Context, c Cluster) Result { return Result{Failure: rolling(ctx, c)} }

func rolling(ctx context.Context, c Cluster) *Failure {
	since := c.Now()
	rev, err := c.Upgrade(ctx)
	if err != nil {
		if rev.Number == 0 {
			return &Failure{Why: err.Error()} // nothing was written
		}
		return &Failure{Revision: rev.Number, Since: since, Why: fmt.Sprintf("the upgrade failed to apply: %v", err), Reason: diagnose.Config}
	}
	if rev.Workloads.Empty() {
		c.Warn(ctx, "watch", "the chart renders no Deployment, StatefulSet or DaemonSet: no rollout to watch")
		return nil
	}
	res, werr := c.Watch(ctx, rev.Workloads, since)
	switch {
	case ctx.Err() != nil:
		return &Failure{Revision: rev.Number, Since: since, Result: &res, Why: "the run was cancelled during the rollout"}
	case werr != nil && !errors.Is(werr, context.DeadlineExceeded):
		return &Failure{Revision: rev.Number, Since: since, Result: &res, Why: "watching the rollout failed: " + werr.Error()}
	case !res.Ready:
		return &Failure{Revision: rev.Number, Since: since, Result: &res}
	}
	c.Info(ctx, "watch", "rollout complete: %s", res.Status)
	if sig := c.CheckHealth(ctx); sig != nil {
		res.Ready, res.Signals = false, []diagnose.Signal{*sig}
		return &Failure{Revision: rev.Number, Since: since, Result: &res}
	}
	return nil
}

// Undo rolls back through Helm revisions.
func (Rolling) Undo(ctx context.Context, c Cluster, f *Failure) { c.RollBack(ctx, f) }
