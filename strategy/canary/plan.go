package canary

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// Plan is what pre-flight knows of a canary deploy before it writes: the release's tracks
// as its latest revision applied them (the stable documents the post-renderer keeps), and,
// once the chart has rendered, the new version's replicas per Deployment.
type Plan struct {
	first        bool
	layout       TrackLayout
	replicas     map[string]int
	unsplittable []string
	// live is what each stable Deployment runs now: N, where an HPA scales it or the chart
	// leaves replicas out (rewrite.StartCount).
	live map[string]int
	// route is the HTTPRoute a gateway-api canary weights ("": none), the Services its owner's
	// rules send to, and each stable Deployment's pod-template-hash now.
	route  string
	sends  []string
	hashes map[string]string
	// metrics is the run's metrics provider, to check before any write; the release's
	// namespace and name, to check it with.
	metrics            func() (analysis.Provider, error)
	namespace, release string
}

func (p *Plan) PostRender(rendered string) (string, error) {
	l, err := ReadTracks(rendered)
	if err != nil {
		return "", err
	}
	if p.replicas, err = rewrite.RunCounts(rendered, p.live); err != nil {
		return "", err
	}
	p.unsplittable = l.Unsplittable
	out, err := Canarize(rendered, p.layout.Stable, p.layout.Config)
	if err != nil || p.route == "" {
		return out, err
	}
	routed, err := route.SentServices(rendered, p.route, p.sends)
	if err != nil {
		return "", err
	}
	return TrackServices(out, routed, p.hashes)
}

// Check refuses, before any write, a chart the canary cannot run, and a metrics provider that
// cannot observe it (asked once: it answers, and it runs the user's query templates).
func (p *Plan) Check(ctx context.Context) error {
	if err := p.checkChart(); err != nil {
		return err
	}
	if p.metrics == nil {
		return nil
	}
	m, err := p.metrics()
	if err != nil || m == nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return m.Check(qctx, analysis.Track{Namespace: p.namespace, Release: p.release, Name: "canary", Pods: PodPattern(nil), Window: time.Minute})
}

// checkChart refuses a chart the canary cannot run.
func (p *Plan) checkChart() error {
	switch {
	case len(p.unsplittable) > 0:
		return fmt.Errorf("%s: a canary runs two tracks of each Deployment side by side; the chart also renders %s, which would be upgraded in place, live, before any check; use strategy rolling for this chart",
			config.InStrategy, strings.Join(p.unsplittable, ", "))
	case len(p.replicas) == 0:
		return fmt.Errorf("%s: the chart renders no Deployment: a canary has nothing to run", config.InStrategy)
	}
	for name, n := range p.replicas {
		if n < 1 {
			return fmt.Errorf("%s: Deployment %s runs %d replicas: a canary needs at least 1", config.InStrategy, name, n)
		}
	}
	return nil
}

// FirstPlan is the plan of a canary's first install, which is a rolling deploy's.
func FirstPlan() *Plan { return &Plan{first: true} }

// PlanDeploy reads what a canary of the release needs of what runs now (live, its latest
// revision's manifest; exists: the release has a revision): the tracks the post-renderer
// keeps, each stable Deployment's count now, and a gateway-api canary's route, checked before
// any write.
func PlanDeploy(ctx context.Context, e Env, live string, exists bool) (*Plan, error) {
	p := &Plan{first: !exists, metrics: e.Metrics, namespace: e.Session.Kube().Namespace, release: e.Config.Release}
	if !exists {
		return p, nil
	}
	var err error
	if p.layout, err = ReadTracks(live); err != nil {
		return nil, err
	}
	if p.live, err = strategy.LiveCounts(ctx, e.Session.Kube(), p.layout.Names()); err != nil {
		return nil, err
	}
	if err := NewCluster(e, p).planRoute(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// First: the release has no revision yet (the canary is a rolling deploy).
func (p *Plan) First() bool { return p.first }
