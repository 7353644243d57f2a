package deploy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// trackPlan is what pre-flight knows of a canary deploy before it writes: the release's tracks
// as its latest revision applied them (the stable documents the post-renderer keeps), and,
// once the chart has rendered, the new version's replicas per Deployment.
type trackPlan struct {
	first        bool
	layout       strategy.TrackLayout
	replicas     map[string]int
	unsplittable []string
	// live is what each stable Deployment runs now: N, where an HPA scales it or the chart
	// leaves replicas out (strategy.StartCount).
	live map[string]int
	// route is the HTTPRoute a gateway-api canary weights ("": none), the Services its owner's
	// rules send to, and each stable Deployment's pod-template-hash now.
	route  string
	sends  []string
	hashes map[string]string
}

func (p *trackPlan) postRender(rendered string) (string, error) {
	l, err := strategy.ReadTracks(rendered)
	if err != nil {
		return "", err
	}
	if p.replicas, err = strategy.RunCounts(rendered, p.live); err != nil {
		return "", err
	}
	p.unsplittable = l.Unsplittable
	out, err := strategy.Canarize(rendered, p.layout.Stable, p.layout.Config)
	if err != nil || p.route == "" {
		return out, err
	}
	routed, err := routedServices(rendered, p.route, p.sends)
	if err != nil {
		return "", err
	}
	return strategy.TrackServices(out, routed, p.hashes)
}

// routedServices are the chart's Services among those route sends to.
func routedServices(rendered, route string, sends []string) ([]string, error) {
	rs, err := release.SplitManifest(rendered)
	if err != nil {
		return nil, err
	}
	var chart, out []string
	for _, r := range rs {
		if r.Kind == "Service" {
			chart = append(chart, r.Name)
			if slices.Contains(sends, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: HTTPRoute %s sends to %s; none of them is a Service of the chart (it renders %s): the route must send to the chart's Service for its weights to move",
			config.InHTTPRoute, route, orNone(sends), orNone(chart))
	}
	sort.Strings(out)
	return out, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no Service"
	}
	return strings.Join(s, ", ")
}

// check refuses, before any write, a chart the canary cannot run.
func (p *trackPlan) check() error {
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
