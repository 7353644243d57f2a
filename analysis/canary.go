package analysis

import (
	"context"
	"fmt"
	"math"
	"time"
)

// QueryVars are the placeholders a canary query template may use: the namespace, the release,
// a regular expression matching the track's pod names, the window to look back over (a PromQL
// duration such as 45s: the stage so far) and the track (canary or stable).
var QueryVars = []string{"namespace", "release", "pods", "window", "track"}

// Querier evaluates instant PromQL queries (Prometheus does): a user's template to one number
// now, and a counter's raw series at a given time (the counts, counts.go).
type Querier interface {
	Query(ctx context.Context, promQL string) (Sample, error)
	QueryVectorAt(ctx context.Context, promQL string, at time.Time) ([]Series, error)
}

// VectorQuerier also evaluates a query to its series now (Prometheus does).
type VectorQuerier interface {
	QueryVector(ctx context.Context, promQL string) ([]Series, error)
}

var (
	_ Querier       = (*Prometheus)(nil)
	_ VectorQuerier = (*Prometheus)(nil)
)

// Queries are a canary's metric queries: the default counters (RequestsSeries, BucketsSeries),
// read as counts since the stage began, and the user's templates.
type Queries struct {
	// ErrorRate, when set, is the user's template of the error ratio (0–1), evaluated now over
	// {{ window }} as written (a ratio is not a count: it is taken as it is); the errors are
	// that ratio times the exact request count (RequestsSeries), so the ratio's confidence is
	// known. Unset: errors and requests are both exact counts.
	ErrorRate string
	// Latency, when set, is the user's template of the p99 latency in seconds, evaluated now
	// as written. Unset: the p99 of the exact bucket counts since the stage began (Quantile).
	Latency string
	// WithLatency: read the latency at all (a threshold is set).
	WithLatency bool
	// WithBuckets: read the latency histogram's buckets (BucketsSeries), to compare the tracks'
	// distributions.
	WithBuckets bool
}

// Observation is what one round of queries saw of one track since its stage began.
type Observation struct {
	Errors, Requests float64
	// RequestsKnown: the request count had data (with a user's ratio query it may not).
	RequestsKnown bool
	// Ratio is the error ratio (NaN: no data).
	Ratio float64
	// P99 is the p99 latency in seconds (NoData when not read or no data).
	P99 Sample
	// Buckets are the latency histogram's cumulative bucket counts since the stage began (nil
	// when not read or no series).
	Buckets []Bucket
}

// Observe runs the queries for one track over span (the stage so far); vars fill the
// templates' placeholders.
func (q Queries) Observe(ctx context.Context, p Querier, vars map[string]string, span Span) (Observation, error) {
	o := Observation{P99: Sample{NoData: true}}
	run := func(tmpl string) (Sample, error) {
		promQL, err := Render(tmpl, vars)
		if err != nil {
			return Sample{}, err
		}
		return p.Query(ctx, promQL)
	}
	counts := func(tmpl string) ([]Series, bool, error) {
		sel, err := Render(tmpl, vars)
		if err != nil {
			return nil, false, err
		}
		return readCounts(ctx, p, sel, span)
	}
	series, seen, err := counts(RequestsSeries)
	if err != nil {
		return o, err
	}
	o.RequestsKnown = seen
	o.Requests, o.Errors = requestCounts(series)
	o.Ratio = nan()
	if q.ErrorRate == "" {
		if seen { // no 5xx series at all, with requests, is zero errors
			o.Ratio = o.Errors / max(o.Requests, 1e-9)
		}
	} else {
		ratio, err := run(q.ErrorRate)
		if err != nil {
			return o, err
		}
		if !ratio.NoData {
			o.Ratio = ratio.Value
		}
		o.Errors = o.Ratio * o.Requests
	}
	if seen && (q.WithBuckets || (q.WithLatency && q.Latency == "")) {
		b, _, err := counts(BucketsSeries)
		if err != nil {
			return o, err
		}
		o.Buckets = bucketCounts(b)
		if q.WithLatency && q.Latency == "" {
			o.P99 = Quantile(0.99, o.Buckets)
		}
	}
	if q.WithLatency && q.Latency != "" {
		if o.P99, err = run(q.Latency); err != nil {
			return o, err
		}
	}
	return o, nil
}

// FormatSeconds writes a latency in seconds as milliseconds (or seconds from 10 s).
func FormatSeconds(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f ms", 1000*s)
}

func nan() float64 { return math.NaN() }
