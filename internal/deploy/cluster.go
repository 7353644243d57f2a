package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// cluster is the run as a strategy sees it: what it may do to the cluster, each write
// recorded on the Lease and in the report.
type cluster struct {
	r           *run
	pf          *preflight // nil outside a deploy (promote, abort, rollback, recovery)
	noWorkloads bool
}

var _ strategy.Cluster = (*cluster)(nil)

// apply is a Helm upgrade --install of chart ch with vals (the release's latest revision being
// before), without Helm's wait; the revision it wrote becomes the run's. On an error, the
// Revision is the one Helm wrote anyway (0 when none).
func (c *cluster) apply(ctx context.Context, ch *chart.Chart, vals map[string]any, before int, o release.UpgradeOptions) (*helmrelease.Release, strategy.Revision, error) {
	r := c.r
	rel, err := r.d.Helm.Upgrade(ctx, r.cfg.Release, ch, vals, o)
	if err != nil {
		if n := r.latest(); n > before { // Helm wrote a revision before it failed
			r.out.Revision = n
			return nil, strategy.Revision{Number: n}, err
		}
		return nil, strategy.Revision{}, err
	}
	r.out.Revision = rel.Version
	return rel, strategy.Revision{Number: rel.Version}, nil
}

// Upgrade is a Helm upgrade --install of the pre-flighted chart and values, without Helm's wait.
// With keep_capacity, each Deployment rolls with maxUnavailable 0 (strategy.KeepCapacity): a
// rollout never takes a ready replica out of service before its replacement is Ready.
func (c *cluster) Upgrade(ctx context.Context) (strategy.Revision, error) {
	r, cfg := c.r, c.r.cfg
	var kept []string
	o := release.UpgradeOptions{Description: "Shepherd: upgrade to " + words.OrDefault(cfg.ImageTag, "chart defaults")}
	if cfg.KeepCapacity {
		o.PostRender = func(m string) (string, error) {
			out, changed, err := strategy.KeepCapacity(m, c.pf.ownRollout)
			kept = changed
			return out, err
		}
	}
	rel, rev, err := c.apply(ctx, c.pf.chart, c.pf.values, c.pf.current, o)
	if err != nil {
		return rev, err
	}
	if len(kept) > 0 {
		r.surged = kept
		r.event(ctx, "upgrade", Info, "keep_capacity: every ready replica keeps serving during the rollout: %s", strings.Join(kept, "; "))
	}
	r.phase(ctx, kube.PhaseDeploying, rel.Version)
	r.event(ctx, "upgrade", Info, "revision %d applied (previous: %s)", rel.Version, words.RevName(c.pf.current))
	wl, err := release.WorkloadsOf(rel.Manifest)
	if err != nil {
		return strategy.Revision{Number: rel.Version}, fmt.Errorf("cannot read the release manifest: %w", err)
	}
	c.noWorkloads = wl.Empty()
	return strategy.Revision{Number: rel.Version, Workloads: wl}, nil
}

// Watch follows the rollout with the fail-fast watcher, bounded by timeout.
func (c *cluster) Watch(ctx context.Context, w release.Workloads, since time.Time) (health.Result, error) {
	wctx, cancel := context.WithTimeout(ctx, c.r.cfg.Timeout)
	defer cancel()
	return c.r.watcher().Watch(wctx, health.TargetFor(c.r.cfg.Namespace, w, since))
}

// CheckHealth asks health_url, when set.
func (c *cluster) CheckHealth(ctx context.Context) *diagnose.Signal {
	if c.r.cfg.HealthURL == "" {
		return nil
	}
	sig := c.r.checkHealth(ctx)
	if sig == nil {
		c.r.event(ctx, "health-check", Info, "%s answered healthy", c.r.cfg.HealthURL)
	}
	return sig
}

// RollBack is the run's cleanup: diagnose, roll back through Helm revisions, verify.
func (c *cluster) RollBack(ctx context.Context, f *strategy.Failure) {
	c.r.cleanup(ctx, f.Since, f.Result, f.Why, f.Reason)
}

func (c *cluster) Info(ctx context.Context, phase, format string, a ...any) {
	c.r.event(ctx, phase, Info, format, a...)
}

func (c *cluster) Warn(ctx context.Context, phase, format string, a ...any) {
	c.r.event(ctx, phase, Warn, format, a...)
}

func (c *cluster) Now() time.Time { return c.r.d.Clock.Now() }
