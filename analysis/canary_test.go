package analysis

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestStageJudge(t *testing.T) {
	lim := Limits{ErrorRate: 0.05, Latency: 100 * time.Millisecond, MinRequests: 20}
	noLat := Limits{ErrorRate: 0.05, MinRequests: 20}
	ok := func(e, n float64) Observation {
		return Observation{Errors: e, Requests: n, RequestsKnown: true, Ratio: e / n, P99: Sample{Value: 0.02}}
	}
	slow := func(n float64, p99 float64) Observation {
		return Observation{Requests: n, RequestsKnown: true, P99: Sample{Value: p99}}
	}
	for _, tc := range []struct {
		name     string
		limits   Limits
		obs      []Observation
		observed Verdict // the last Observe's verdict
		end      Verdict // End's ("" when the stage stops early)
		metric   string
	}{
		{"healthy", lim, []Observation{ok(0, 50), ok(0, 100)}, Undecided, Pass, ""},
		{"erroring: significant at once", lim, []Observation{ok(50, 100)}, Fail, "", "error rate"},
		{"a few errors in a few requests abort nothing", lim, []Observation{ok(3, 8)}, Undecided, NoData, "error rate"},
		{"just above the limit: decided at the end", lim, []Observation{ok(6, 100)}, Undecided, Fail, "error rate"},
		{"no series is no data", noLat, []Observation{{Ratio: math.NaN(), P99: Sample{NoData: true}}}, Undecided, NoData, "error rate"},
		{"slow twice in a row", lim, []Observation{slow(50, 0.3), slow(60, 0.3)}, Fail, "", "p99 latency"},
		{"slow once is not enough", lim, []Observation{slow(50, 0.3), slow(60, 0.05), slow(70, 0.3)}, Undecided, Fail, "p99 latency"},
		{"latency without data", lim, []Observation{{Requests: 50, RequestsKnown: true, P99: Sample{NoData: true}}}, Undecided, NoData, "p99 latency"},
		{"latency not judged", noLat, []Observation{slow(50, 9)}, Undecided, Pass, ""},
		{"user ratio without counts and min_requests 0", Limits{ErrorRate: 0.05}, []Observation{{Ratio: 0.01, P99: Sample{NoData: true}}}, Undecided, Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &StageJudge{Limits: tc.limits}
			var got Judgement
			for _, o := range tc.obs {
				got = j.Observe(o)
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
			if got.Metric != tc.metric {
				t.Errorf("metric %q, want %q", got.Metric, tc.metric)
			}
			if got.Verdict == Fail && (got.Value == "" || got.Limit == "") {
				t.Errorf("a failure without its figures: %+v", got)
			}
		})
	}
}

type fakeProm map[string]Sample // query substring → answer

func (f fakeProm) Query(_ context.Context, q string) (Sample, error) {
	for k, v := range f {
		if strings.Contains(q, k) {
			return v, nil
		}
	}
	if strings.Contains(q, "boom") {
		return Sample{}, errors.New("prometheus at http://p:9090: down")
	}
	return Sample{NoData: true}, nil
}

func TestObserve(t *testing.T) {
	vars := map[string]string{"namespace": "prod", "release": "web", "pods": "web-canary-.*", "window": "30s", "track": "canary"}
	// No 5xx series at all, with requests: zero errors, not no data.
	o, err := Queries{}.Observe(context.Background(), fakeProm{`pod=~"web-canary-.*"}[30s]`: {Value: 120}}, vars)
	if err != nil || o.Requests != 120 || o.Errors != 0 || o.Ratio != 0 || !o.RequestsKnown {
		t.Fatalf("%+v %v", o, err)
	}
	// A user's ratio query is scaled by the request count.
	o, _ = Queries{ErrorRate: `my_ratio{ns="{{ namespace }}"}`}.Observe(context.Background(),
		fakeProm{`my_ratio{ns="prod"}`: {Value: 0.5}, `http_requests_total`: {Value: 40}}, vars)
	if o.Errors != 20 || o.Ratio != 0.5 {
		t.Errorf("%+v", o)
	}
	// Latency read only when asked, with the user's template.
	o, _ = Queries{WithLatency: true, Latency: `p99{track="{{ track }}"}`}.Observe(context.Background(),
		fakeProm{`p99{track="canary"}`: {Value: 0.25}}, vars)
	if o.P99.NoData || o.P99.Value != 0.25 || o.RequestsKnown || !math.IsNaN(o.Ratio) {
		t.Errorf("%+v", o)
	}
	if _, err := (Queries{ErrorRate: "boom"}).Observe(context.Background(), fakeProm{"http_requests_total": {Value: 1}}, vars); err == nil {
		t.Error("a Prometheus error was swallowed")
	}
}

func TestDefaultQueriesUseOnlyKnownPlaceholders(t *testing.T) {
	for _, q := range []string{RequestsQuery, ErrorsQuery, LatencyQuery} {
		if err := CheckTemplate(q, QueryVars); err != nil {
			t.Error(err)
		}
	}
	if err := CheckTemplate(`x{a="{{ podz }}"}`, QueryVars); err == nil || !strings.Contains(err.Error(), "podz") {
		t.Errorf("unknown placeholder: %v", err)
	}
}
