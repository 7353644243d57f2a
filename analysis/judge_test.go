package analysis

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestStageJudge(t *testing.T) {
	lim := Limits{ErrorRate: 0.05, Latency: 100 * time.Millisecond, MinRequests: 20}
	noLat := Limits{ErrorRate: 0.05, MinRequests: 20}
	base := Limits{ErrorRate: 0.05, MinRequests: 20, Baseline: true}
	ok := func(e, n float64) Observation {
		return Observation{Errors: e, Requests: n, RequestsKnown: true, Ratio: e / n, P99: Sample{Value: 0.02}}
	}
	slow := func(n float64, p99 float64) Observation {
		return Observation{Requests: n, RequestsKnown: true, P99: Sample{Value: p99}}
	}
	none := Observation{Ratio: math.NaN()}
	type look struct{ canary, stable Observation }
	for _, tc := range []struct {
		name     string
		limits   Limits
		looks    []look
		observed Verdict // the last Observe's verdict
		end      Verdict // End's ("" when the stage stops early)
		metric   string
		both     bool
	}{
		{"healthy", lim, []look{{ok(0, 50), none}, {ok(0, 100), none}}, Undecided, Pass, "", false},
		{"erroring: significant at once", lim, []look{{ok(50, 100), none}}, Fail, "", TestThreshold, false},
		{"a few errors in a few requests abort nothing", lim, []look{{ok(3, 8), none}}, Undecided, NoData, TestThreshold, false},
		{"just above the limit, not significant: no point-estimate rule at the end", lim, []look{{ok(6, 100), none}}, Undecided, Pass, "", false},
		{"no series is no data", noLat, []look{{Observation{Ratio: math.NaN(), P99: Sample{NoData: true}}, none}}, Undecided, NoData, TestThreshold, false},
		{"slow twice in a row", lim, []look{{slow(50, 0.3), none}, {slow(60, 0.3), none}}, Fail, "", TestP99, false},
		{"slow once is not enough", lim, []look{{slow(50, 0.3), none}, {slow(60, 0.05), none}, {slow(70, 0.3), none}}, Undecided, Fail, TestP99, false},
		{"latency without data", lim, []look{{Observation{Requests: 50, RequestsKnown: true, P99: Sample{NoData: true}}, none}}, Undecided, NoData, TestP99, false},
		{"latency not judged", noLat, []look{{slow(50, 9), none}}, Undecided, Pass, "", false},
		{"user ratio without counts and min_requests 0", Limits{ErrorRate: 0.05}, []look{{Observation{Ratio: 0.01, P99: Sample{NoData: true}}, none}}, Undecided, Pass, "", false},
		{"user ratio without counts above the limit", Limits{ErrorRate: 0.05}, []look{{Observation{Ratio: 0.2, P99: Sample{NoData: true}}, none}}, Undecided, Fail, TestThreshold, false},
		{"both tracks erroring: not the canary's doing", base, []look{{ok(80, 1000), ok(800, 10000)}}, Undecided, Pass, "", true},
		{"both erroring, the stable's count still short of min_requests", base, []look{{ok(8, 29), ok(5, 19.98)}}, Undecided, Pass, "", true},
		{"a thin stable under the threshold is no excuse", base, []look{{ok(50, 100), ok(0, 5)}}, Fail, "", TestThreshold, false},
		{"both erroring, the canary much worse", base, []look{{ok(300, 1000), ok(800, 10000)}}, Fail, "", TestErrorsStable, false},
		{"the same outage without a baseline blames the canary", noLat, []look{{ok(80, 1000), ok(800, 10000)}}, Fail, "", TestThreshold, false},
		{"3x the stable, under the threshold", base, []look{{ok(300, 10000), ok(100, 10000)}}, Fail, "", TestErrorsStable, false},
		{"like the stable", base, []look{{ok(10, 1000), ok(10, 1000)}}, Undecided, Pass, "", false},
		{"no stable traffic (the last stage): threshold only", base, []look{{ok(10, 1000), ok(0, 0)}}, Undecided, Pass, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &StageJudge{Limits: tc.limits}
			var got Judgement
			for _, l := range tc.looks {
				got = j.Observe(l.canary, l.stable)
			}
			if got.Verdict != tc.observed {
				t.Fatalf("Observe: %+v, want %s", got, tc.observed)
			}
			if tc.end != "" {
				got = j.End()
				if got.Verdict != tc.end {
					t.Fatalf("End: %+v, want %s", got, tc.end)
				}
			}
			if got.Metric != tc.metric || got.Both != tc.both {
				t.Errorf("metric %q both %v, want %q %v (%+v)", got.Metric, got.Both, tc.metric, tc.both, got)
			}
			if got.Verdict == Fail && (got.Value == "" || got.Limit == "" || got.Sentence() == "") {
				t.Errorf("a failure without its figures: %+v", got)
			}
		})
	}
}

func TestStageJudgeLatencyAgainstStable(t *testing.T) {
	hist := func(n float64, shares ...float64) []Bucket { // shares: fraction at most 0.05, 0.1, 0.25, 0.5
		b := []Bucket{{Le: math.Inf(1), Count: n}}
		for i, le := range []float64{0.05, 0.1, 0.25, 0.5} {
			b = append(b, Bucket{Le: le, Count: n * shares[i]})
		}
		SortBuckets(b)
		return b
	}
	obs := func(n float64, b []Bucket) Observation {
		return Observation{Requests: n, RequestsKnown: true, Ratio: 0, Buckets: b}
	}
	j := &StageJudge{Limits: Limits{ErrorRate: 0.05, MinRequests: 20, Baseline: true}}
	got := j.Observe(obs(1000, hist(1000, 0.5, 0.7, 0.9, 1)), obs(1000, hist(1000, 0.9, 0.99, 1, 1)))
	if got.Verdict != Fail || got.Metric != TestLatencyStable {
		t.Fatalf("a canary far slower than the stable: %+v", got)
	}
	if !strings.Contains(got.Value, "slower than") {
		t.Errorf("value %q", got.Value)
	}
	j = &StageJudge{Limits: Limits{ErrorRate: 0.05, MinRequests: 20, Baseline: true}}
	got = j.Observe(obs(1000, hist(1000, 0.9, 0.99, 1, 1)), obs(1000, hist(1000, 0.9, 0.99, 1, 1)))
	if got.Verdict != Undecided {
		t.Fatalf("the same distribution: %+v", got)
	}
	if s, ok := got.Strongest(); !ok || s.Bound != 300 {
		t.Errorf("strongest %+v %v, want a bound of 3/alpha", s, ok)
	}
}
