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

// The default queries, on the conventional metric names (client_golang's promhttp, most HTTP
// middleware): requests and 5xx answers counted over the window, and the p99 latency in seconds.
const (
	RequestsQuery = `sum(increase(http_requests_total{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}]))`
	ErrorsQuery   = `sum(increase(http_requests_total{namespace="{{ namespace }}",pod=~"{{ pods }}",code=~"5.."}[{{ window }}]))`
	LatencyQuery  = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}])))`
)

// Querier evaluates an instant PromQL query to one number (Prometheus does).
type Querier interface {
	Query(ctx context.Context, promQL string) (Sample, error)
}

var _ Querier = (*Prometheus)(nil)

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
	return o, nil
}

// Limits are what a canary stage is judged against.
type Limits struct {
	ErrorRate   float64       // highest error ratio (0.05 for 5%)
	Latency     time.Duration // highest p99 (0: not judged)
	MinRequests float64       // fewer requests in the window is no data
}

// Judgement is a stage's verdict so far, and the metric that decided it.
type Judgement struct {
	Verdict Verdict
	// Metric names what decided a Fail or NoData: "error rate" or "p99 latency".
	Metric string
	// Value and Limit are the measured figure and the threshold, as a person reads them.
	Value, Limit string
	Ratio        Ratio
}

// StageJudge judges one stage's observations as they come (Observe) and at its end (End). An
// error rate significantly above the limit fails at once; a p99 above the limit fails once seen
// in two observations in a row with enough requests (one slow scrape decides nothing); anything
// else waits for the end, where too few requests, or no series, is NoData — never a pass.
type StageJudge struct {
	Limits Limits
	slow   int
	last   Observation
}

// Observe takes the latest observation (its window covers the stage so far) and returns Fail
// when the evidence is already conclusive, Undecided otherwise.
func (j *StageJudge) Observe(o Observation) Judgement {
	j.last = o
	r := j.ratio(o)
	if r.Verdict == Fail {
		return j.errorJudgement(r, Fail)
	}
	if j.Limits.Latency > 0 && !o.P99.NoData && j.enough(o) && o.P99.Value > j.Limits.Latency.Seconds() {
		if j.slow++; j.slow >= 2 {
			return j.latencyJudgement(o, r, Fail)
		}
	} else {
		j.slow = 0
	}
	return Judgement{Verdict: Undecided, Ratio: r}
}

// End is the stage's verdict from its last observation.
func (j *StageJudge) End() Judgement {
	o := j.last
	r := j.ratio(o)
	switch v := r.Final(j.Limits.ErrorRate); v {
	case Fail, NoData:
		return j.errorJudgement(r, v)
	}
	if j.Limits.Latency > 0 {
		switch {
		case o.P99.NoData:
			return j.latencyJudgement(o, r, NoData)
		case o.P99.Value > j.Limits.Latency.Seconds():
			return j.latencyJudgement(o, r, Fail)
		}
	}
	return Judgement{Verdict: Pass, Ratio: r}
}

func (j *StageJudge) enough(o Observation) bool {
	return (!o.RequestsKnown && j.Limits.MinRequests == 0) || (o.RequestsKnown && o.Requests >= j.Limits.MinRequests && o.Requests > 0)
}

// ratio is the observation's error ratio judged against the limit, with its confidence when
// the request count is known.
func (j *StageJudge) ratio(o Observation) Ratio {
	if o.Ratio != o.Ratio { // NaN: no series
		return Ratio{Requests: o.Requests, Verdict: NoData}
	}
	if !o.RequestsKnown { // a user's ratio without a count: the point estimate, at the end
		if j.Limits.MinRequests > 0 {
			return Ratio{Verdict: NoData}
		}
		return Ratio{Estimate: o.Ratio, Low: o.Ratio, High: o.Ratio, Errors: o.Errors, Verdict: Undecided}
	}
	return JudgeRatio(o.Errors, o.Requests, j.Limits.ErrorRate, j.Limits.MinRequests)
}

func (j *StageJudge) errorJudgement(r Ratio, v Verdict) Judgement {
	value := fmt.Sprintf("%.2f%% (%.0f of %.0f requests)", 100*r.Estimate, r.Errors, r.Requests)
	if v == NoData {
		value = fmt.Sprintf("no data (%.0f requests, %.0f needed)", r.Requests, j.Limits.MinRequests)
	}
	return Judgement{Verdict: v, Metric: "error rate", Value: value, Limit: fmt.Sprintf("%g%%", 100*j.Limits.ErrorRate), Ratio: r}
}

func (j *StageJudge) latencyJudgement(o Observation, r Ratio, v Verdict) Judgement {
	value := "no data"
	if !o.P99.NoData {
		value = FormatSeconds(o.P99.Value)
	}
	return Judgement{Verdict: v, Metric: "p99 latency", Value: value, Limit: FormatSeconds(j.Limits.Latency.Seconds()), Ratio: r}
}

// FormatSeconds writes a latency in seconds as milliseconds (or seconds from 10 s).
func FormatSeconds(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f ms", 1000*s)
}

func nan() float64 { return math.NaN() }
