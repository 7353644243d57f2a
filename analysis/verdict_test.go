package analysis

import (
	"math"
	"testing"
)

func TestWilson(t *testing.T) {
	for _, tc := range []struct{ k, n, low, high float64 }{
		{0, 100, 0, 0.0622}, // 0 of 100: still up to ~6% at 99%
		{50, 100, 0.3753, 0.6247},
		{5, 10, 0.1842, 0.8158},
		{1000, 1000, 0.9934, 1},
	} {
		l, h := Wilson(tc.k, tc.n, Z)
		if math.Abs(l-tc.low) > 0.001 || math.Abs(h-tc.high) > 0.001 {
			t.Errorf("Wilson(%v, %v) = %.4f–%.4f, want %.4f–%.4f", tc.k, tc.n, l, h, tc.low, tc.high)
		}
	}
}

func TestJudgeRatio(t *testing.T) {
	const threshold, min = 0.05, 20
	for _, tc := range []struct {
		name             string
		errors, requests float64
		want, final      Verdict
	}{
		{"no requests: no data, never a pass", 0, 0, NoData, NoData},
		{"below min_requests: no data", 3, 19, NoData, NoData},
		{"a few errors in a few requests abort nothing", 3, 25, Undecided, Fail},
		{"1 in 25: undecided, passes at the end", 1, 25, Undecided, Pass},
		{"half of 100 fail: significant at once", 50, 100, Fail, Fail},
		{"10% of 1000: significantly above 5%", 100, 1000, Fail, Fail},
		{"6% of 200: above the threshold but not significantly", 12, 200, Undecided, Fail},
		{"0 of 500: significantly below", 0, 500, Pass, Pass},
		{"1% of 2000: pass", 20, 2000, Pass, Pass},
		{"errors over requests (counter race) clamps", 30, 25, Fail, Fail},
		{"NaN requests: no data", 1, math.NaN(), NoData, NoData},
	} {
		r := JudgeRatio(tc.errors, tc.requests, threshold, min)
		if r.Verdict != tc.want || r.Final(threshold) != tc.final {
			t.Errorf("%s: %v → %s, final %s; want %s, final %s", tc.name, r, r.Verdict, r.Final(threshold), tc.want, tc.final)
		}
	}
}

func TestJudgeValue(t *testing.T) {
	if JudgeValue(Sample{NoData: true}, 0.5) != NoData || JudgeValue(Sample{Value: 0.6}, 0.5) != Fail ||
		JudgeValue(Sample{Value: 0.5}, 0.5) != Pass || JudgeValue(Sample{Value: 0}, 0.5) != Pass {
		t.Error("JudgeValue")
	}
}

func TestTemplates(t *testing.T) {
	tmpl := `sum(rate(http_requests_total{namespace="{{ namespace }}",pod=~"{{pods}}",code=~"5.."}[{{ interval }}]))`
	if got := Placeholders(tmpl); len(got) != 3 || got[0] != "interval" || got[2] != "pods" {
		t.Errorf("Placeholders = %v", got)
	}
	if err := CheckTemplate(tmpl, []string{"namespace", "pods", "interval"}); err != nil {
		t.Error(err)
	}
	if err := CheckTemplate(tmpl+"{{ podz }}", []string{"namespace", "pods", "interval"}); err == nil || err.Error() != "unknown placeholder {{ podz }} (allowed: {{ namespace }}, {{ pods }}, {{ interval }})" {
		t.Errorf("CheckTemplate with a typo = %v", err)
	}
	got, err := Render(tmpl, map[string]string{"namespace": "prod", "pods": "web-canary-.*", "interval": "30s"})
	if err != nil || got != `sum(rate(http_requests_total{namespace="prod",pod=~"web-canary-.*",code=~"5.."}[30s]))` {
		t.Errorf("Render = %q, %v", got, err)
	}
	if _, err := Render(tmpl, map[string]string{"namespace": "prod"}); err == nil {
		t.Error("Render with missing values succeeded")
	}
}
