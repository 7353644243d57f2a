package report

import (
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/outcome"
)

func TestCanaryMarkdown(t *testing.T) {
	c := &outcome.CanaryReport{Metrics: true, ErrorLimit: "5%", Stages: []outcome.StageReport{
		{Requested: 10, Actual: 25, Canary: 1, Stable: 3, Ran: true, Held: 300 * time.Second, Verdict: "pass", CanaryErrors: "0.40% (1/250)", StableErrors: "0.10% (1/1000)", ErrorRate: 0.4,
			Test: "errors vs stable", Evidence: 0.52, Bound: 300, Decided: 300 * time.Second},
		{Requested: 50, Actual: 50, Canary: 2, Stable: 2, Ran: true, Held: 12 * time.Second, Verdict: "fail", Metric: "error rate", Value: "31.00% (31 of 100 requests)", Limit: "5%", ErrorRate: 31,
			Test: "error rate", Evidence: 2e7, Bound: 300, Decided: 12 * time.Second},
		{Requested: 75, Actual: 75, Canary: 3, Stable: 1, Ran: true, Held: 300 * time.Second, Verdict: outcome.VerdictBoth, Metric: "error rate",
			Value: "canary 8.00% (80/1000), stable 7.90% (237/3000)", Limit: "5%", ErrorRate: 8, Test: "errors vs stable", Evidence: 0.1, Bound: 300, Decided: 300 * time.Second},
		{Requested: 100, Actual: 100, Canary: 4, ErrorRate: -1},
	}}
	md := Markdown(outcome.Outcome{Status: outcome.RolledBack, Release: "web", Canary: c})
	for _, want := range []string{
		"| Canary weight | 0% |",
		"| 1 | 10% | 25% | 1 + 3 | 300.0s | 0.40% (1/250) | 0.10% (1/1000) | 0.52 of 300 (errors vs stable, at 300.0s) | ✅ pass |",
		"| 2 | 50% | 50% | 2 + 2 | 12.0s | – | – | over 10⁶ of 300 (error rate, at 12.0s) | ❌ fail: error rate 31.00% (31 of 100 requests) above 5% |",
		"| 3 | 75% | 75% | 3 + 1 | 300.0s | – | – | 0.1 of 300 (errors vs stable, at 300.0s) | ⚠️ both tracks above 5% (canary 8.00% (80/1000), stable 7.90% (237/3000)): not the canary's doing, passed |",
		"| 4 | 100% | 100% | 4 + 0 | – | – | – | – | not run |",
		"Evidence against the canary per stage", "bar [-0.28, 6.00, -1.00]", "line [2.48, 2.48, 2.48]", "anytime-valid",
		"cannot give every weight asked (10% → 25%)",
		"xychart-beta", `x-axis ["1: 10%", "2: 50%", "3: 75%"]`, "bar [0.40, 31.00, 8.00]", "line [5, 5, 5]",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the summary lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "No metrics") {
		t.Error("said no metrics were analysed")
	}
	c.Metrics = false
	md = Markdown(outcome.Outcome{Status: outcome.Succeeded, Release: "web", Canary: c})
	if !strings.Contains(md, "No metrics were analysed") || strings.Contains(md, "xychart") {
		t.Errorf("without Prometheus:\n%s", md)
	}
}
