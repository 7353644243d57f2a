package main

import (
	"math"
	"math/rand"
	"time"

	"github.com/shepherd-deploy/shepherd/analysis"
)

// What the judge sees through Prometheus: each track's counters exist only as scrapes, every
// scrape interval at a phase of its own. The judge before read increase() over the stage so
// far, which takes the scrapes inside the window and extrapolates their difference to the
// window's edges (Prometheus' extrapolatedRate); the judge now reads the counters' last scrape
// at or before the stage's start and their last scrape since, and subtracts — the requests and
// errors that really happened between two scrapes.

// Scrapes are the scrape intervals simulated.
var Scrapes = []time.Duration{15 * time.Second, 30 * time.Second, 60 * time.Second}

// ScrapeJudges are the judges of the scrape table, by name, each on the same scrapes.
var ScrapeJudges = []string{"before: increase(), baseline: none", "before: increase(), baseline: stable", "now: exact counts, baseline: none", "now: exact counts, baseline: stable"}

// history is how long each track served before the stage (its counters' value at its start).
const history = 10 * time.Minute

// scrape is one scrape of both tracks' counters, at a time relative to the stage's start.
type scrape struct {
	at                     float64 // seconds
	reqC, errC, reqS, errS float64
}

// scrapes draws a stage's scrapes: traffic at a steady rate (the canary's RPS, the stable nine
// times it) from history before the stage, each request during the stage an error with its
// track's rate (before it, the counters hold that rate's share); the first scrape is the last
// at or before the stage's start, at a uniformly random phase.
func scrapes(rng *rand.Rand, row Row, s Stage, every time.Duration) []scrape {
	iv := every.Seconds()
	arrived := func(rps, t float64) float64 { return math.Floor(rps * (t + history.Seconds())) }
	at := -rng.Float64() * iv
	prev := scrape{at: at, reqC: arrived(row.RPS, at), reqS: arrived(9*row.RPS, at)}
	prev.errC, prev.errS = math.Round(row.Canary*prev.reqC), math.Round(row.Stable*prev.reqS)
	out := []scrape{prev}
	for at += iv; at <= s.Length.Seconds(); at += iv {
		cur := scrape{at: at, reqC: arrived(row.RPS, at), reqS: arrived(9*row.RPS, at)}
		cur.errC = prev.errC + float64(binomial(rng, int(cur.reqC-prev.reqC), row.Canary))
		cur.errS = prev.errS + float64(binomial(rng, int(cur.reqS-prev.reqS), row.Stable))
		out = append(out, cur)
		prev = cur
	}
	return out
}

// exact is what the judge reads now at a look: the last scrape at or before now, less the
// last at or before the stage's start (the first one).
func exact(sc []scrape, now float64) (canary, stable analysis.Observation) {
	last := sc[0]
	for _, x := range sc {
		if x.at <= now {
			last = x
		}
	}
	return observed(last.errC-sc[0].errC, last.reqC-sc[0].reqC), observed(last.errS-sc[0].errS, last.reqS-sc[0].reqS)
}

// extrapolated is what the judge read before at a look: increase() over the stage so far,
// (0, now] — no data with fewer than two scrapes in it.
func extrapolated(sc []scrape, now float64) (canary, stable analysis.Observation) {
	var in []scrape
	for _, x := range sc {
		if x.at > 0 && x.at <= now {
			in = append(in, x)
		}
	}
	if len(in) < 2 {
		none := analysis.Observation{Ratio: math.NaN(), P99: analysis.Sample{NoData: true}}
		return none, none
	}
	inc := func(v func(scrape) float64) float64 {
		return Increase(in[0].at, in[len(in)-1].at, v(in[0]), v(in[len(in)-1]), len(in), 0, now)
	}
	canary = observed(inc(func(x scrape) float64 { return x.errC }), inc(func(x scrape) float64 { return x.reqC }))
	stable = observed(inc(func(x scrape) float64 { return x.errS }), inc(func(x scrape) float64 { return x.reqS }))
	return canary, stable
}

// Increase is Prometheus' increase() of a counter over the range [rangeStart, rangeEnd] (in
// seconds) from n samples (n ≥ 2), the first (firstAt, first) and the last (lastAt, last), no
// reset between: their difference extrapolated to the range's edges — by the gap to each edge
// when it is under 1.1 average intervals, by half an interval otherwise, and not past where
// the counter would have been zero (extrapolatedRate in Prometheus' promql/functions.go).
func Increase(firstAt, lastAt, first, last float64, n int, rangeStart, rangeEnd float64) float64 {
	result := last - first
	sampled := lastAt - firstAt
	avg := sampled / float64(n-1)
	toStart, toEnd := firstAt-rangeStart, rangeEnd-lastAt
	if result > 0 && first >= 0 {
		toStart = math.Min(toStart, sampled*first/result)
	}
	to := sampled
	for _, d := range []float64{toStart, toEnd} {
		if d < avg*1.1 {
			to += d
		} else {
			to += avg / 2
		}
	}
	return result * to / sampled
}

func observed(errors, requests float64) analysis.Observation {
	return analysis.Observation{Errors: errors, Requests: requests, RequestsKnown: true, Ratio: errors / math.Max(requests, 1e-9), P99: analysis.Sample{NoData: true}}
}

// SimulateScrapes runs n stages of row scraped every interval, each judged by every scrape
// judge on the same scrapes.
func SimulateScrapes(row Row, s Stage, every time.Duration, n int, rng *rand.Rand) []Result {
	looks := int(s.Length / s.Look)
	times := make([][]time.Duration, len(ScrapeJudges))
	early := make([]int, len(ScrapeJudges))
	for i := 0; i < n; i++ {
		sc := scrapes(rng, row, s, every)
		judges := make([]*analysis.StageJudge, len(ScrapeJudges))
		for k := range judges {
			judges[k] = &analysis.StageJudge{Limits: analysis.Limits{ErrorRate: s.Threshold, MinRequests: s.MinRequests, Alpha: s.Alpha, Baseline: k%2 == 1}}
		}
		done := make([]bool, len(ScrapeJudges))
		for l := 1; l <= looks; l++ {
			at := time.Duration(l) * s.Look
			last := l == looks
			oc, os := extrapolated(sc, at.Seconds())
			nc, ns := exact(sc, at.Seconds())
			for k, j := range judges {
				if done[k] {
					continue
				}
				c, st := oc, os
				if k >= 2 {
					c, st = nc, ns
				}
				v := j.Observe(c, st).Verdict
				if last && v != analysis.Fail {
					v = j.End().Verdict
				}
				if v == analysis.Fail {
					done[k] = true
					times[k] = append(times[k], at)
					if !last {
						early[k]++
					}
				}
			}
		}
	}
	out := make([]Result, len(ScrapeJudges))
	for k := range ScrapeJudges {
		out[k] = Result{Aborted: float64(len(times[k])) / float64(n), Early: float64(early[k]) / float64(n), Median: median(times[k])}
	}
	return out
}
