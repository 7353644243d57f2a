package canary

import (
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/client-go/kubernetes"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// Levels and statuses, as the canary reports them.
const (
	Info  = outcome.Info
	Warn  = outcome.Warn
	Error = outcome.Error
)

// Cluster is the canary's cluster half: what its flow (Tracks) does to the world, through the
// engine's session. It embeds the engine's Cluster for what a canary does as a rolling deploy
// does (a first install, a failed promotion's Helm rollback).
type Cluster struct {
	strategy.Cluster
	s   strategy.Session
	cfg config.Config
	// metrics is the canary's metrics provider (nil provider: pod health only).
	metrics func() (analysis.Provider, error)
	// plan is pre-flight's plan of this deploy (nil outside a deploy: promote, abort, recovery).
	plan *Plan
	tr   *tracks
	// watched is the last watch of the canary's pods Ready at a weight (its selector names
	// them for a diagnosis).
	watched health.Result
	// chart is the chart the promotion renders, when found before the stages ran (mode
	// promote checks that it can, before it acts); nil: found at the promotion.
	chart *chart.Chart
	// previewed: the route's preview rule is written (the first stage writes it before any
	// weight moves).
	previewed bool
}

var _ Tracks = (*Cluster)(nil)

// Env is what the engine gives the canary besides its session: the engine's cluster, the run's
// settings, and its metrics provider.
type Env struct {
	Cluster strategy.Cluster
	Session strategy.Session
	Config  config.Config
	Metrics func() (analysis.Provider, error)
}

// NewCluster is the canary's cluster half for a deploy that pre-flight planned (plan).
func NewCluster(e Env, plan *Plan) *Cluster {
	return &Cluster{Cluster: e.Cluster, s: e.Session, cfg: e.Config, metrics: e.Metrics, plan: plan}
}

func (c *Cluster) event(ctx context.Context, phase string, lvl outcome.Level, format string, a ...any) {
	strategy.Tell{S: c.s}.Event(ctx, phase, lvl, format, a...)
}

func (c *Cluster) waitEvent(ctx context.Context, phase string, wait time.Duration, format string, a ...any) {
	strategy.Tell{S: c.s}.Wait(ctx, phase, wait, format, a...)
}

func (c *Cluster) fail(ctx context.Context, phase string, reason diagnose.Category, format string, a ...any) {
	strategy.Tell{S: c.s}.Fail(ctx, phase, reason, format, a...)
}

func (c *Cluster) recovered(ctx context.Context, lvl outcome.Level, format string, a ...any) {
	strategy.Tell{S: c.s}.Recovered(ctx, lvl, format, a...)
}

func (c *Cluster) state(ctx context.Context, phase kube.Phase, rev int, notes map[string]string) error {
	return c.s.Record(ctx, phase, rev, notes)
}

func (c *Cluster) scale(ctx context.Context, name string, replicas int) error {
	return c.s.Scale(ctx, name, replicas)
}

// scaleAll sets each named Deployment's replicas.
func (c *Cluster) scaleAll(ctx context.Context, names []string, replicas int) error {
	for _, name := range names {
		if err := c.scale(ctx, name, replicas); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) out() *outcome.Outcome { return c.s.Outcome() }

func (c *Cluster) typed() kubernetes.Interface { return c.s.Kube().Typed }

func (c *Cluster) ns() string { return c.s.Kube().Namespace }

func (c *Cluster) routes() route.Routes { return route.Of(c.s) }

// Succeeded is what a deploy that went live adds to the engine's message.
func (c *Cluster) Succeeded() string {
	if c.tr == nil {
		return ""
	}
	return fmt.Sprintf(", promoted after %d canary stages", len(c.tr.stages))
}
