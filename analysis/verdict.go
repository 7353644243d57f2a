package analysis

import (
	"fmt"
	"math"
)

// Verdict is a check's judgement of the evidence so far.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	// NoData: too few requests, or no series at all — never silently a pass.
	NoData Verdict = "no data"
	// Undecided: data enough, but not yet significant either way; keep watching (at the end
	// of a window, Final decides on the point estimate).
	Undecided Verdict = "undecided"
)

// Z is the normal quantile of the confidence with which a ratio is called significantly above
// or below its threshold: 2.576, 99% two-sided (99.5% one-sided), so a stage is not aborted on
// a chance run of errors.
const Z = 2.576

// Ratio is an errors/requests judgement with its confidence interval.
type Ratio struct {
	Errors, Requests float64
	// Estimate is Errors/Requests; Low and High bound it (Wilson score interval at Z).
	Estimate, Low, High float64
	Verdict             Verdict
}

func (r Ratio) String() string {
	if r.Verdict == NoData {
		return fmt.Sprintf("no data (%.0f requests)", r.Requests)
	}
	return fmt.Sprintf("%.2f%% (%.0f/%.0f; %.2f–%.2f%%)", 100*r.Estimate, r.Errors, r.Requests, 100*r.Low, 100*r.High)
}

// JudgeRatio judges an error ratio against threshold (a fraction, 0.05 for 5%) at one look — the
// rule the canary's judge used before its anytime-valid tests (StageJudge), kept for comparison
// (bench/judgesim): read again and again, its error rate exceeds Z's. Fewer than minRequests
// requests is NoData; Fail once the whole confidence interval is above the threshold, Pass once
// it is all at or below it, Undecided in between.
func JudgeRatio(errors, requests, threshold, minRequests float64) Ratio {
	r := Ratio{Errors: errors, Requests: requests}
	if requests <= 0 || math.IsNaN(requests) || requests < minRequests {
		r.Verdict = NoData
		return r
	}
	errors = math.Max(0, math.Min(errors, requests))
	r.Estimate = errors / requests
	r.Low, r.High = Wilson(errors, requests, Z)
	switch {
	case r.Low > threshold:
		r.Verdict = Fail
	case r.High <= threshold:
		r.Verdict = Pass
	default:
		r.Verdict = Undecided
	}
	return r
}

// Final is the verdict at the end of a window: an undecided ratio passes when its estimate is
// at or below the threshold, and fails otherwise.
func (r Ratio) Final(threshold float64) Verdict {
	if r.Verdict != Undecided {
		return r.Verdict
	}
	if r.Estimate <= threshold {
		return Pass
	}
	return Fail
}

// Wilson returns the Wilson score interval of k successes in n trials at normal quantile z.
func Wilson(k, n, z float64) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	p := k / n
	z2 := z * z
	den := 1 + z2/n
	center := (p + z2/(2*n)) / den
	half := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / den
	return math.Max(0, center-half), math.Min(1, center+half)
}

// JudgeValue judges a value (a latency) against a ceiling: no data is NoData, above is Fail.
func JudgeValue(s Sample, ceiling float64) Verdict {
	switch {
	case s.NoData:
		return NoData
	case s.Value > ceiling:
		return Fail
	}
	return Pass
}
