package bluegreen

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// A blue-green release's HTTPRoute previews the idle colour: requests carrying preview_header
// go to its <svc>-preview Services before the switch, and the smoke tests ask through it.

// releaseRoute is the HTTPRoute this run's work weights or previews: the input's, or the one an
// earlier run recorded on the release's Lease ("": none).
func (c *Cluster) releaseRoute() string {
	if c.cfg.GatewayAPI() {
		return c.cfg.HTTPRoute
	}
	if c.locked {
		return c.prev.Notes[strategy.NoteRoute]
	}
	return ""
}

// previewRoute writes the preview rules for colour col on the route (when preview_header is
// set) and returns where its smoke tests ask; a route the gateway refuses is the signal.
func (c *Cluster) previewRoute(ctx context.Context, col strategy.Color) (*strategy.SmokeVia, *diagnose.Signal) {
	p := c.plan
	if p == nil || p.route == "" || c.cfg.PreviewHeader == "" {
		return nil, nil
	}
	name, routed := p.route, p.routed
	rules := func(spec map[string]any) (map[string]any, error) {
		var err error
		for _, svc := range routed {
			if spec, err = route.Preview(spec, svc, svc+PreviewSuffix, c.cfg.PreviewHeader, c.cfg.PreviewValue); err != nil {
				return nil, err
			}
		}
		return spec, nil
	}
	if err := c.routes().Write(ctx, name, rules, false); err != nil {
		return nil, &diagnose.Signal{Category: diagnose.Config, Object: "HTTPRoute/" + name, Reason: "PreviewRejected", Message: err.Error()}
	}
	c.event(ctx, "smoke", outcome.Info, "HTTPRoute %s sends requests with %s: %s to %s (%s), before any switch", name, c.cfg.PreviewHeader, c.cfg.PreviewValue, col,
		strings.Join(suffixed(routed, PreviewSuffix), ", "))
	if err := c.routes().Wait(ctx); err != nil { // accepted is not yet served: the smoke tests must reach col, not the live colour
		return nil, &diagnose.Signal{Category: diagnose.HealthCheck, Object: "HTTPRoute/" + name, Reason: strategy.SmokeReason, Message: err.Error()}
	}
	via := &strategy.SmokeVia{Header: http.Header{c.cfg.PreviewHeader: {c.cfg.PreviewValue}}}
	if base, host, err := c.routes().GatewayBase(ctx, name); err != nil {
		c.event(ctx, "smoke", outcome.Warn, "the smoke tests ask through a port-forward: %v", err)
	} else {
		via.Base, via.Where = base, fmt.Sprintf("the gateway at %s (HTTPRoute %s, %s: %s)", base, name, c.cfg.PreviewHeader, c.cfg.PreviewValue)
		if host != "" {
			via.Header.Set("Host", host)
		}
	}
	return via, nil
}

// unpreview puts the release's route back as its owner wrote it, if Shepherd changed it; a
// failure is a warning (the preview rule sends only requests carrying the header).
func (c *Cluster) unpreview(ctx context.Context) {
	route := c.releaseRoute()
	if route == "" {
		return
	}
	if err := c.routes().Restore(ctx, route); err != nil {
		c.event(ctx, "switch", outcome.Warn, "HTTPRoute %s keeps its preview rule: %v", route, err)
	}
}

func suffixed(names []string, suffix string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + suffix
	}
	return out
}
