package bluegreen

import (
	"context"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// Env is what the engine gives blue-green besides its session: the engine's cluster (for what
// it does as any deploy does: watch, health_url), the run's settings, the person to ask before
// a switch back (nil: no one), and the Lease as the previous run left it.
type Env struct {
	Cluster strategy.Cluster
	Session strategy.Session
	Config  config.Config
	Confirm func(ctx context.Context, p outcome.RollbackPlan) bool
	// Previous is the Lease's state before this run took it; Locked: this run holds it.
	Previous kube.Previous
	Locked   bool
}

// Cluster is blue-green's cluster half: what its flow (Colors) does to the world, through the
// engine's session, on one revision's colour.
type Cluster struct {
	strategy.Cluster
	s       strategy.Session
	cfg     config.Config
	confirm func(ctx context.Context, p outcome.RollbackPlan) bool
	prev    kube.Previous
	locked  bool
	// plan is pre-flight's plan of this deploy (nil outside a deploy: promote, abort,
	// rollback, recovery).
	plan *Plan
	// layout is the release's (its Services and each colour's Deployments); rev the revision
	// worked on and deploying its colour.
	layout    Layout
	rev       int
	deploying strategy.Color
	// undone is where the run notes the colour an interrupted run's work was taken back to.
	undone *string
}

var _ Colors = (*Cluster)(nil)

// NewCluster is blue-green's cluster half for a deploy that pre-flight planned (plan).
func NewCluster(e Env, plan *Plan) *Cluster {
	return &Cluster{Cluster: e.Cluster, s: e.Session, cfg: e.Config, confirm: e.Confirm, prev: e.Previous, locked: e.Locked, plan: plan}
}

// Succeeded is what a deploy that went live adds to the engine's message: where it went live,
// and what became of the colour before it.
func (c *Cluster) Succeeded() string {
	if c.deploying == "" {
		return ""
	}
	msg := ", live on " + string(c.deploying)
	if c.plan != nil && c.plan.active != "" {
		msg += " after a " + c.cfg.GracePeriod.String() + " grace period (" + string(c.plan.active) + " scaled to 0, kept for a quick switch back)"
	}
	return msg
}

// on is c for blue-green work on layout l's revision rev, colour col.
func (c *Cluster) on(l Layout, rev int, col strategy.Color) *Cluster {
	cc := *c
	cc.layout, cc.rev, cc.deploying = l, rev, col
	return &cc
}

func (c *Cluster) tell() strategy.Tell { return strategy.Tell{S: c.s} }

func (c *Cluster) event(ctx context.Context, phase string, lvl outcome.Level, format string, a ...any) {
	c.tell().Event(ctx, phase, lvl, format, a...)
}

func (c *Cluster) waitEvent(ctx context.Context, phase string, wait time.Duration, format string, a ...any) {
	c.tell().Wait(ctx, phase, wait, format, a...)
}

func (c *Cluster) fail(ctx context.Context, phase string, reason diagnose.Category, format string, a ...any) {
	c.tell().Fail(ctx, phase, reason, format, a...)
}

func (c *Cluster) recovered(ctx context.Context, lvl outcome.Level, format string, a ...any) {
	c.tell().Recovered(ctx, lvl, format, a...)
}

func (c *Cluster) state(ctx context.Context, phase kube.Phase, rev int, notes map[string]string) error {
	return c.s.Record(ctx, phase, rev, notes)
}

func (c *Cluster) out() *outcome.Outcome { return c.s.Outcome() }

func (c *Cluster) typed() kubernetes.Interface { return c.s.Kube().Typed }

func (c *Cluster) ns() string { return c.s.Kube().Namespace }

func (c *Cluster) routes() route.Routes { return route.Of(c.s) }
