package analysis

import (
	"context"
	"fmt"
	"time"
)

// Track is what a metrics provider observes: one track's pods (a regular expression of their
// names) of a release, over a window ending now.
type Track struct {
	Namespace, Release string
	// Name is the track: canary or stable.
	Name string
	// Pods matches the track's pod names.
	Pods string
	// Window is how far back to look (the stage so far).
	Window time.Duration
	// Start is when the stage began: the counters are read at it and now (zero: Window
	// before now).
	Start time.Time
}

// Provider returns the observations the judge needs — errors, requests, latency — for a
// track and a window. Prometheus is the first (PrometheusProvider); another backend is a new
// implementation of these three methods, and the engine holds only this interface.
type Provider interface {
	// Observe reads one track over its window.
	Observe(ctx context.Context, t Track) (Observation, error)
	// Check asks once, before anything is written, whether observing can work at all; its
	// error names the input to change.
	Check(ctx context.Context, t Track) error
	// Latency says whether Observe reads the latency (a threshold is set).
	Latency() bool
}

// PrometheusProvider observes tracks in Prometheus with the default counters (RequestsSeries,
// BucketsSeries: counts since the stage began) or the user's templates.
type PrometheusProvider struct {
	P       Querier
	Queries Queries
	// Inputs name the inputs its errors point at: the URL, the error-rate and the latency
	// queries.
	Inputs [3]string
}

var _ Provider = (*PrometheusProvider)(nil)

// NewPrometheusProvider is the provider of the Prometheus at address (user:password@ in it is
// a credential, never printed).
func NewPrometheusProvider(address string, a Auth, q Queries, inputs [3]string) (*PrometheusProvider, error) {
	p, err := NewPrometheusWith(address, a, nil)
	if err != nil {
		return nil, err
	}
	return &PrometheusProvider{P: p, Queries: q, Inputs: inputs}, nil
}

// Observe runs the queries for the track.
func (p *PrometheusProvider) Observe(ctx context.Context, t Track) (Observation, error) {
	return p.Queries.Observe(ctx, p.P, t.vars(), t.span(time.Now()))
}

// Check runs each query once.
func (p *PrometheusProvider) Check(ctx context.Context, t Track) error {
	return p.Queries.Check(ctx, p.P, t.vars(), t.span(time.Now()), p.Inputs[0], p.Inputs[1], p.Inputs[2])
}

// Latency says whether the latency is read.
func (p *PrometheusProvider) Latency() bool { return p.Queries.WithLatency }

// vars fill the query templates' placeholders (QueryVars).
func (t Track) vars() map[string]string {
	return map[string]string{"namespace": t.Namespace, "release": t.Release, "track": t.Name, "pods": t.Pods,
		"window": fmt.Sprintf("%ds", max(1, int((t.Window+time.Second-1)/time.Second)))}
}

// span is the stage so far, ending now: from Start, or Window before now.
func (t Track) span(now time.Time) Span {
	start := t.Start
	if start.IsZero() || start.After(now) {
		start = now.Add(-t.Window)
	}
	return Span{Start: start, Now: now}
}
