package deploy

import (
	"context"
	"fmt"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/bluegreen"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// This file is the registry: the only file of the engine that names a strategy package. The
// engine meets each strategy through a lifecycle — its name and Lease notes, its pre-flight
// plan, its cluster, and its modes — and the strategy.Strategy it deploys and undoes with.

// lifecycle is one strategy as the engine meets it beyond Deploy and Undo.
type lifecycle interface {
	// name is the strategy input's value.
	name() config.Strategy
	// strategy is the Strategy that deploys and undoes, set up as cfg says.
	strategy(cfg config.Config) strategy.Strategy
	// notes are the Lease notes it owns: a run of another strategy clears them.
	notes() []string
	// recorded reports whether a Lease's notes were written by a run of this strategy.
	recorded(notes map[string]string) bool
	// refuses is why a run of another strategy may not upgrade a release whose latest
	// manifest is live (nil: it may).
	refuses(cfg config.Config, live string) error
	// plan is its pre-flight for a deploy: it reads what it needs of the live release, keeps
	// what it found on pf, and sets the dry run's post-renderer on opts. rolling: the run
	// rolls as a rolling deploy does (a canary's first install).
	plan(ctx context.Context, pf *preflight, live string, exists bool, opts *release.UpgradeOptions) (rolling bool, err error)
	// cluster is its side of the cluster for a deploy planned as pf says, over the engine's c.
	cluster(c *cluster, pf *preflight) strategy.Cluster
	// notAVersion tells a revision of its that is no version to roll back to.
	notAVersion(rel *helmrelease.Release) bool
	// beforeLock runs in mode rollback before the lock is taken: done when it did the
	// rollback itself (a blue-green switch back in a grace period).
	beforeLock(ctx context.Context) (done bool)
	// rollback is mode rollback of a release this strategy left: handled when it was.
	rollback(ctx context.Context, hist []*helmrelease.Release) (handled bool)
	// promote and abort finish or drop what a run of it left awaiting promotion.
	promote(ctx context.Context, rev int, hist []*helmrelease.Release)
	abort(ctx context.Context, rev int, hist []*helmrelease.Release)
	// finish ends what an interrupted run of it (who) left at revision rev, as finishStrategy
	// says.
	finish(ctx context.Context, notes map[string]string, rev int, who string, hist []*helmrelease.Release) (done bool, after func(error) error, err error)
}

// strategyPlan is what a strategy's pre-flight found, checked against the rendered manifest.
type strategyPlan interface {
	check(ctx context.Context, manifest string) error
}

// lifecycles are the strategies with a lifecycle of their own, one line each (rolling has
// none: it is what the engine does itself).
func (r *run) lifecycles() []lifecycle {
	if r.registry == nil {
		r.registry = []lifecycle{
			&canaryLife{r: r},
			&blueGreenLife{r: r},
		}
	}
	return r.registry
}

// lifecycle is the lifecycle of the strategy cfg names (nil: rolling).
func (r *run) lifecycle() lifecycle {
	for _, l := range r.lifecycles() {
		if l.name() == r.cfg.Strategy {
			return l
		}
	}
	return nil
}

// recordedBy is the lifecycle whose run wrote notes (nil: none, or rolling).
func (r *run) recordedBy(notes map[string]string) lifecycle {
	for _, l := range r.lifecycles() {
		if l.recorded(notes) {
			return l
		}
	}
	return nil
}

// notAVersion tells a revision that is no version to roll back to, as its strategy knows it.
func (r *run) notAVersion(rel *helmrelease.Release) bool {
	for _, l := range r.lifecycles() {
		if l.notAVersion(rel) {
			return true
		}
	}
	return false
}

// withoutOthers is notes, the notes other strategies own cleared.
func (r *run) withoutOthers(notes map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range r.lifecycles() {
		if string(l.name()) == notes[kube.AnnotationStrategy] {
			continue
		}
		for _, k := range l.notes() {
			out[k] = ""
		}
	}
	for k, v := range notes {
		out[k] = v
	}
	return out
}

// strategyFor returns the strategy cfg names, set up as cfg says. An unknown name is an error,
// never a fallback.
func (r *run) strategyFor() (strategy.Strategy, error) {
	if r.cfg.Strategy == config.StrategyRolling {
		return strategy.Rolling{}, nil
	}
	if l := r.lifecycle(); l != nil {
		return l.strategy(r.cfg), nil
	}
	return nil, fmt.Errorf("strategy: %q is not a strategy Shepherd has", r.cfg.Strategy)
}

// session is the strategy.Session of c's run.
func (c *cluster) session() session { return session{r: c.r, pf: c.pf} }

// blueGreenLife is blue-green's lifecycle.
type blueGreenLife struct {
	r     *run
	modes *bluegreen.Modes
}

type blueGreenPlan struct{ *bluegreen.Plan }

func (p blueGreenPlan) check(_ context.Context, manifest string) error { return p.Check(manifest) }

func (l *blueGreenLife) name() config.Strategy { return config.StrategyBlueGreen }

func (l *blueGreenLife) strategy(cfg config.Config) strategy.Strategy {
	return bluegreen.Strategy{AutoPromote: cfg.AutoPromote, Grace: cfg.GracePeriod}
}

func (l *blueGreenLife) notes() []string                       { return bluegreen.Notes }
func (l *blueGreenLife) recorded(notes map[string]string) bool { return bluegreen.Recorded(notes) }
func (l *blueGreenLife) notAVersion(*helmrelease.Release) bool { return false }

func (l *blueGreenLife) refuses(cfg config.Config, live string) error {
	if bluegreen.Owns(live) {
		return bluegreen.ErrOtherStrategy(cfg)
	}
	return nil
}

func (l *blueGreenLife) env(c *cluster) bluegreen.Env {
	r := l.r
	e := bluegreen.Env{Cluster: c, Session: c.session(), Config: r.cfg, Confirm: r.d.Confirm, Locked: r.lock != nil}
	if r.lock != nil {
		e.Previous = r.lock.Previous
	}
	return e
}

func (l *blueGreenLife) plan(ctx context.Context, pf *preflight, live string, exists bool, opts *release.UpgradeOptions) (bool, error) {
	p, err := bluegreen.PlanDeploy(ctx, l.env(&cluster{r: l.r, pf: pf}), live, exists)
	if err != nil {
		return false, err
	}
	pf.plan, opts.PostRender = blueGreenPlan{p}, p.PostRender
	return false, nil
}

func (l *blueGreenLife) cluster(c *cluster, pf *preflight) strategy.Cluster {
	p, _ := pf.plan.(blueGreenPlan)
	return bluegreen.NewCluster(l.env(c), p.Plan)
}

// mode is blue-green's side of this run's modes, from the Lease as this run found it.
func (l *blueGreenLife) mode() *bluegreen.Modes {
	r := l.r
	if l.modes == nil || (l.modes.Locked != (r.lock != nil)) {
		l.modes = &bluegreen.Modes{Env: l.env(&cluster{r: r}), Undo: r.undoContext, AbortAwaiting: r.abort}
	}
	return l.modes
}

func (l *blueGreenLife) beforeLock(ctx context.Context) bool { return l.mode().SwitchBackNow(ctx) }

func (l *blueGreenLife) rollback(ctx context.Context, hist []*helmrelease.Release) bool {
	if !bluegreen.Owns(hist[len(hist)-1].Manifest) {
		return false
	}
	l.mode().Rollback(ctx, hist)
	return true
}

func (l *blueGreenLife) promote(ctx context.Context, rev int, hist []*helmrelease.Release) {
	l.r.wrote = true
	l.mode().Promote(ctx, rev, hist)
}

func (l *blueGreenLife) abort(ctx context.Context, rev int, hist []*helmrelease.Release) {
	l.mode().Abort(ctx, rev, hist)
}

func (l *blueGreenLife) finish(ctx context.Context, _ map[string]string, rev int, who string, hist []*helmrelease.Release) (bool, func(error) error, error) {
	return true, nil, wroteFinish(l.mode().Finish(ctx, rev, who, hist))
}

// canaryLife is the canary's lifecycle.
type canaryLife struct {
	r     *run
	modes *canary.Modes
}

type canaryPlan struct{ *canary.Plan }

func (p canaryPlan) check(ctx context.Context, _ string) error {
	if p.First() {
		return nil
	}
	return p.Check(ctx)
}

func (l *canaryLife) name() config.Strategy { return config.StrategyCanary }

func (l *canaryLife) strategy(cfg config.Config) strategy.Strategy {
	return canary.Strategy{AutoPromote: cfg.AutoPromote}
}

func (l *canaryLife) notes() []string                           { return canary.Notes }
func (l *canaryLife) recorded(notes map[string]string) bool     { return canary.Recorded(notes) }
func (l *canaryLife) notAVersion(rel *helmrelease.Release) bool { return canary.NotAVersion(rel) }
func (l *canaryLife) refuses(config.Config, string) error       { return nil }

func (l *canaryLife) env(c *cluster) canary.Env {
	return canary.Env{Cluster: c, Session: c.session(), Config: l.r.cfg, Metrics: l.r.metricsProvider}
}

func (l *canaryLife) plan(ctx context.Context, pf *preflight, live string, exists bool, opts *release.UpgradeOptions) (bool, error) {
	if !exists && l.r.cfg.KeepCapacity { // a first install is a rolling one
		pf.plan = canaryPlan{canary.FirstPlan()}
		return true, nil
	}
	p, err := canary.PlanDeploy(ctx, l.env(&cluster{r: l.r, pf: pf}), live, exists)
	if err != nil {
		return false, err
	}
	pf.plan = canaryPlan{p}
	if exists {
		opts.PostRender = p.PostRender
	}
	return false, nil
}

func (l *canaryLife) cluster(c *cluster, pf *preflight) strategy.Cluster {
	p, _ := pf.plan.(canaryPlan)
	return canary.NewCluster(l.env(c), p.Plan)
}

// mode is the canary's side of this run's modes, from the notes the Lease held when this run
// took it.
func (l *canaryLife) mode() *canary.Modes {
	if l.modes == nil {
		l.modes = &canary.Modes{Env: l.env(&cluster{r: l.r}), Previous: l.r.lock.Previous, Undo: l.r.undoContext}
	}
	return l.modes
}

// beforeLock asks a canary in flight to stop, so that its run undoes it and frees the lock.
func (l *canaryLife) beforeLock(ctx context.Context) bool {
	l.r.stopAsked = canary.AskToStop(ctx, l.env(&cluster{r: l.r}), stopPoll)
	return false
}

func (l *canaryLife) rollback(ctx context.Context, hist []*helmrelease.Release) bool {
	return l.mode().Rollback(ctx, hist, l.r.stopAsked, l.r.abort)
}

func (l *canaryLife) promote(ctx context.Context, rev int, hist []*helmrelease.Release) {
	l.mode().Promote(ctx, rev, hist) // its first write records a phase (r.wrote)
}

func (l *canaryLife) abort(ctx context.Context, rev int, hist []*helmrelease.Release) {
	l.mode().Abort(ctx, rev, hist)
}

func (l *canaryLife) finish(ctx context.Context, notes map[string]string, rev int, who string, hist []*helmrelease.Release) (bool, func(error) error, error) {
	if !canary.Promoting(notes) {
		return true, nil, wroteFinish(l.mode().Finish(ctx, rev, who, hist))
	}
	// a promotion: the stable track's rollout, checked as a rolling one is
	finish := l.mode().KeepServing(ctx, who)
	return false, func(err error) error {
		if err != nil {
			return err
		}
		if ferr := finish(ctx, l.r.unfinished); ferr != nil {
			return &finishError{error: ferr}
		}
		return nil
	}, nil
}

// wroteFinish is a finishing strategy's error, marked as written when it wrote.
func wroteFinish(wrote bool, err error) error {
	if wrote {
		return &finishError{error: err}
	}
	return err
}
