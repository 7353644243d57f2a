package analysis

import (
	"context"
	"fmt"
	"math"
	"strconv"
)

// QueryVars are the placeholders a canary query template may use: the namespace, the release,
// a regular expression matching the track's pod names, the window to look back over (a PromQL
// duration such as 45s: the stage so far) and the track (canary or stable).
var QueryVars = []string{"namespace", "release", "pods", "window", "track"}

// The default queries, on the conventional metric names (client_golang's promhttp, most HTTP
// middleware): requests and 5xx answers counted over the window, and the p99 latency in seconds.
const (
	RequestsQuery = `sum(increase(http_requests_total{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}]))`
	ErrorsQuery   = `sum(increase(http_requests_total{namespace="{{ namespace }}",pod=~"{{ pods }}",code=~"5.."}[{{ window }}]))`
	BucketsQuery  = `sum by (le) (increase(http_request_duration_seconds_bucket{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}]))`
	LatencyQuery  = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}])))`
)

// Querier evaluates an instant PromQL query to one number (Prometheus does).
type Querier interface {
	Query(ctx context.Context, promQL string) (Sample, error)
}

// VectorQuerier also evaluates a query to its series (Prometheus does); the latency
// histograms are read through it.
type VectorQuerier interface {
	QueryVector(ctx context.Context, promQL string) ([]Series, error)
}

var (
	_ Querier       = (*Prometheus)(nil)
	_ VectorQuerier = (*Prometheus)(nil)
)

// Queries are a canary's metric queries, as templates.
type Queries struct {
	// ErrorRate, when set, is the user's template of the error ratio (0–1); the default counts
	// errors and requests itself. Either way the request count comes from RequestsQuery, so
	// the ratio's confidence is known.
	ErrorRate string
	// Latency, when set, is the user's template of the p99 latency in seconds.
	Latency string
	// WithLatency: read the latency at all (a threshold is set).
	WithLatency bool
	// WithBuckets: read the latency histogram's buckets (BucketsQuery), to compare the tracks'
	// distributions.
	WithBuckets bool
}

// Observation is what one round of queries saw of one track over its window.
type Observation struct {
	Errors, Requests float64
	// RequestsKnown: the request count had data (with a user's ratio query it may not).
	RequestsKnown bool
	// Ratio is the error ratio (NaN: no data).
	Ratio float64
	// P99 is the p99 latency in seconds (NoData when not read or no data).
	P99 Sample
	// Buckets are the latency histogram's cumulative buckets over the window (nil when not
	// read or no series).
	Buckets []Bucket
}

// Observe runs the queries for one track; vars fill the templates' placeholders.
func (q Queries) Observe(ctx context.Context, p Querier, vars map[string]string) (Observation, error) {
	o := Observation{P99: Sample{NoData: true}}
	run := func(tmpl string) (Sample, error) {
		promQL, err := Render(tmpl, vars)
		if err != nil {
			return Sample{}, err
		}
		return p.Query(ctx, promQL)
	}
	req, err := run(RequestsQuery)
	if err != nil {
		return o, err
	}
	o.Requests, o.RequestsKnown = req.Value, !req.NoData
	if q.ErrorRate == "" {
		errs, err := run(ErrorsQuery)
		if err != nil {
			return o, err
		}
		if !req.NoData { // no 5xx series at all, with requests, is zero errors
			o.Errors = errs.Value
			o.Ratio = o.Errors / max(o.Requests, 1e-9)
		} else {
			o.Ratio = nan()
		}
	} else {
		ratio, err := run(q.ErrorRate)
		if err != nil {
			return o, err
		}
		o.Ratio = ratio.Value
		if ratio.NoData {
			o.Ratio = nan()
		}
		o.Errors = o.Ratio * o.Requests
	}
	if q.WithLatency {
		tmpl := q.Latency
		if tmpl == "" {
			tmpl = LatencyQuery
		}
		if o.P99, err = run(tmpl); err != nil {
			return o, err
		}
	}
	if vq, ok := p.(VectorQuerier); ok && q.WithBuckets && o.RequestsKnown {
		if o.Buckets, err = buckets(ctx, vq, vars); err != nil {
			return o, err
		}
	}
	return o, nil
}

// buckets reads the latency histogram's buckets over the window (nil: no series).
func buckets(ctx context.Context, vq VectorQuerier, vars map[string]string) ([]Bucket, error) {
	promQL, err := Render(BucketsQuery, vars)
	if err != nil {
		return nil, err
	}
	series, err := vq.QueryVector(ctx, promQL)
	if err != nil {
		return nil, err
	}
	var out []Bucket
	for _, s := range series {
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil || math.IsNaN(s.Value) {
			continue
		}
		out = append(out, Bucket{Le: le, Count: s.Value})
	}
	SortBuckets(out)
	return out, nil
}

// FormatSeconds writes a latency in seconds as milliseconds (or seconds from 10 s).
func FormatSeconds(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f ms", 1000*s)
}

func nan() float64 { return math.NaN() }
