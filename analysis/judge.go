package analysis

import (
	"fmt"
	"math"
	"time"
)

// Defaults of a stage's statistical judgement.
const (
	// DefaultAlpha is the chance a stage may abort a canary that is not worse, over all its
	// looks together.
	DefaultAlpha = 0.01
	// DefaultMaxRatio is how many times the stable track's error rate (or share of slow
	// requests) a canary may show before it is worse.
	DefaultMaxRatio = 1.5
)

// Limits are what a canary stage is judged against.
type Limits struct {
	ErrorRate   float64       // highest error ratio (0.05 for 5%)
	Latency     time.Duration // highest p99 (0: not judged)
	MinRequests float64       // fewer requests in the window is no data
	// Alpha is the stage's false-abort budget over every look (0: DefaultAlpha), shared
	// equally by the tests it runs.
	Alpha float64
	// Baseline: judge the canary against the stable track too (its errors and its latency
	// distribution over the same window), and do not blame the canary for errors both tracks
	// show. Off: the error threshold alone, as before.
	Baseline bool
	// MaxRatio is how many times the stable's rate of errors, or of slow requests, the canary
	// may show (0: DefaultMaxRatio).
	MaxRatio float64
}

// The tests a stage runs, as the summary names them.
const (
	TestThreshold     = "error rate"
	TestErrorsStable  = "errors vs stable"
	TestLatencyStable = "latency vs stable"
	TestP99           = "p99 latency"
)

// Test is one anytime-valid test's evidence so far: it decides when E reaches Bound.
type Test struct {
	Name     string
	E, Bound float64
}

// Judgement is a stage's verdict so far, and what decided it.
type Judgement struct {
	Verdict Verdict
	// Metric names what decided a Fail or NoData: one of the Test names.
	Metric string
	// Value and Limit are the measured figure and the threshold, as a person reads them.
	Value, Limit string
	// Tests are the anytime-valid tests' evidence at this look (none before the canary has
	// min_requests).
	Tests []Test
	// Both: the canary's error rate is significantly above the threshold, but so is the stable
	// track's and the canary is not worse than it — an outage beside the canary, not the
	// canary's doing. Not a failure.
	Both bool
}

// Strongest is the test nearest to deciding (the largest share of its bound); ok is false
// without tests.
func (j Judgement) Strongest() (t Test, ok bool) {
	for _, x := range j.Tests {
		if !ok || x.E/x.Bound > t.E/t.Bound {
			t, ok = x, true
		}
	}
	return t, ok
}

// Sentence says what failed, for a diagnosis: "error rate 8.00% (16 of 200 requests) is above
// the 5% threshold".
func (j Judgement) Sentence() string {
	switch {
	case j.Verdict == NoData:
		return fmt.Sprintf("%s: %s", j.Metric, j.Value)
	case j.Metric == TestErrorsStable || j.Metric == TestLatencyStable:
		return fmt.Sprintf("%s: %s, significantly more than %s", j.Metric, j.Value, j.Limit)
	}
	return fmt.Sprintf("%s %s is above the %s threshold", j.Metric, j.Value, j.Limit)
}

// StageJudge judges one stage's observations as they come (Observe) and at its end (End).
// Errors are judged by anytime-valid tests (BernoulliE against the threshold; with a baseline,
// RatioE and SlowerE against the stable track): a test that reaches its bound fails the stage
// at once, and one that has not by the end passes it — however many looks there were, a
// canary that is not worse is aborted with probability at most Alpha. A p99 above the
// latency ceiling fails once seen in two observations in a row with enough requests; too few
// requests, or no series, at the end is NoData — never a pass.
type StageJudge struct {
	Limits       Limits
	slow         int
	last, stable Observation
}

// Observe takes the latest observations of both tracks (their windows cover the stage so far;
// a stable track without data is no baseline) and returns Fail when the evidence is
// conclusive, Undecided otherwise.
func (j *StageJudge) Observe(canary, stable Observation) Judgement {
	j.last, j.stable = canary, stable
	jd := j.tests(canary, stable)
	if jd.Verdict == Fail {
		return jd
	}
	if j.Limits.Latency > 0 && !canary.P99.NoData && j.enough(canary) && canary.P99.Value > j.Limits.Latency.Seconds() {
		if j.slow++; j.slow >= 2 {
			return j.latencyJudgement(canary, Fail, jd.Tests)
		}
	} else {
		j.slow = 0
	}
	jd.Verdict = Undecided
	return jd
}

// End is the stage's verdict from its last observations.
func (j *StageJudge) End() Judgement {
	o := j.last
	switch {
	case o.Ratio != o.Ratio, o.RequestsKnown && !j.enough(o): // NaN: no series
		return j.noData(o)
	case !o.RequestsKnown: // a user's ratio without a count: its point estimate
		if j.Limits.MinRequests > 0 {
			return j.noData(o)
		}
		if o.Ratio > j.Limits.ErrorRate {
			return Judgement{Verdict: Fail, Metric: TestThreshold, Value: fmt.Sprintf("%.2f%%", 100*o.Ratio), Limit: pct(j.Limits.ErrorRate)}
		}
	}
	jd := j.tests(o, j.stable)
	if jd.Verdict == Fail {
		return jd
	}
	if j.Limits.Latency > 0 {
		switch {
		case o.P99.NoData:
			return j.latencyJudgement(o, NoData, jd.Tests)
		case o.P99.Value > j.Limits.Latency.Seconds():
			return j.latencyJudgement(o, Fail, jd.Tests)
		}
	}
	jd.Verdict = Pass
	return jd
}

func (j *StageJudge) enough(o Observation) bool {
	return (!o.RequestsKnown && j.Limits.MinRequests == 0) || (o.RequestsKnown && o.Requests >= j.Limits.MinRequests && o.Requests > 0)
}

// tests runs the anytime-valid tests on the counts so far: Fail when one reached its bound
// (and, for the threshold, the stable track does not show the same errors), Undecided
// otherwise — with Both when only an outage of both tracks kept the threshold from failing.
func (j *StageJudge) tests(c, s Observation) Judgement {
	jd := Judgement{Verdict: Undecided}
	if c.Ratio != c.Ratio || !c.RequestsKnown || !j.enough(c) {
		return jd
	}
	alpha, ratio := orDefault(j.Limits.Alpha, DefaultAlpha), orDefault(j.Limits.MaxRatio, DefaultMaxRatio)
	n := 1.0
	if j.Limits.Baseline {
		n = 3 // errors against the threshold and against the stable, latency against the stable
	}
	bound := n / alpha
	abs := Test{TestThreshold, BernoulliE(c.Errors, c.Requests, j.Limits.ErrorRate), bound}
	jd.Tests = append(jd.Tests, abs)
	base := j.Limits.Baseline && s.RequestsKnown && s.Requests > 0 && s.Ratio == s.Ratio
	if abs.E >= bound {
		// A stable track erroring above the threshold is no healthy baseline, however few
		// requests it has served so far (19 of min_requests 20 included): the canary is not
		// blamed while it looks so, and the comparison with the stable decides; once the
		// stable's rate falls under the threshold, the threshold does.
		if !base || s.Ratio <= j.Limits.ErrorRate {
			return j.fail(jd, TestThreshold, fmt.Sprintf("%.2f%% (%.0f of %.0f requests)", 100*c.Ratio, c.Errors, c.Requests), pct(j.Limits.ErrorRate))
		}
		jd.Both, jd.Limit = true, pct(j.Limits.ErrorRate) // the stable track shows it too: judged against the stable alone
	}
	if !base {
		return jd
	}
	rel := Test{TestErrorsStable, RatioE(c.Errors, s.Errors, c.Requests, s.Requests, ratio), bound}
	e, le := SlowerE(c.Buckets, s.Buckets, ratio)
	lat := Test{TestLatencyStable, e, bound}
	jd.Tests = append(jd.Tests, rel, lat)
	switch {
	case rel.E >= bound:
		jd.Both = false
		return j.fail(jd, TestErrorsStable, fmt.Sprintf("%.2f%% (%.0f of %.0f requests) against the stable's %.2f%% (%.0f of %.0f)",
			100*c.Ratio, c.Errors, c.Requests, 100*s.Ratio, s.Errors, s.Requests), fmt.Sprintf("%g× the stable's", ratio))
	case lat.E >= bound:
		jd.Both = false
		return j.fail(jd, TestLatencyStable, fmt.Sprintf("%.1f%% of its requests slower than %s against the stable's %.1f%%",
			100*SlowerShare(c.Buckets, le), FormatSeconds(le), 100*SlowerShare(s.Buckets, le)), fmt.Sprintf("%g× the stable's share", ratio))
	}
	return jd
}

func (j *StageJudge) fail(jd Judgement, metric, value, limit string) Judgement {
	jd.Verdict, jd.Metric, jd.Value, jd.Limit = Fail, metric, value, limit
	return jd
}

func (j *StageJudge) noData(o Observation) Judgement {
	return Judgement{Verdict: NoData, Metric: TestThreshold, Limit: pct(j.Limits.ErrorRate),
		Value: fmt.Sprintf("no data (%.0f requests, %.0f needed)", o.Requests, j.Limits.MinRequests)}
}

func (j *StageJudge) latencyJudgement(o Observation, v Verdict, tests []Test) Judgement {
	value := "no data"
	if !o.P99.NoData {
		value = FormatSeconds(o.P99.Value)
	}
	return Judgement{Verdict: v, Metric: TestP99, Value: value, Limit: FormatSeconds(j.Limits.Latency.Seconds()), Tests: tests}
}

// FormatE writes an e-value as a person reads it: two digits below 100, whole above, "over
// 10⁶" beyond.
func FormatE(e float64) string {
	switch {
	case math.IsInf(e, 1) || e >= 1e6:
		return "over 10⁶"
	case e >= 100:
		return fmt.Sprintf("%.0f", e)
	}
	return fmt.Sprintf("%.2g", e)
}

func pct(f float64) string { return fmt.Sprintf("%g%%", 100*f) }

func orDefault(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}
