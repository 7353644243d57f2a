package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/shepherd-deploy/shepherd/outcome"
)

// canaryMarkdown is the canary's section of the job summary: a table of the stages (weights
// asked and given, replicas, both tracks' figures, verdict) and a chart of the canary's error
// rate per stage against the threshold.
func canaryMarkdown(c *outcome.CanaryReport) string {
	var b strings.Builder
	b.WriteString("### Canary stages\n\n")
	if !c.Metrics {
		b.WriteString("No metrics were analysed (no `prometheus_url`): each stage was judged on the canary's pod health only.\n\n")
	}
	var inexact []string
	b.WriteString("| stage | asked | live | canary + stable pods | held | canary errors | stable errors |")
	lat := c.LatencyLimit != ""
	if lat {
		b.WriteString(" canary p99 | stable p99 |")
	}
	b.WriteString(" verdict |\n|---:|---:|---:|---|---:|---|---|")
	if lat {
		b.WriteString("---|---|")
	}
	b.WriteString("---|\n")
	for i, s := range c.Stages {
		if math.Abs(s.Actual-float64(s.Requested)) >= 0.5 {
			inexact = append(inexact, fmt.Sprintf("%d%% → %s", s.Requested, pctCell(s.Actual)))
		}
		held, verdict := "–", "not run"
		if s.Ran {
			held, verdict = secs(s.Held), orDash(s.Verdict)
		}
		switch s.Verdict {
		case "pass":
			verdict = "✅ pass"
		case "fail":
			verdict = "❌ fail"
		case "no data":
			verdict = "⚠️ no data"
		}
		if s.Metric != "" && s.Verdict != "pass" {
			verdict += ": " + s.Metric
			if s.Value != "" {
				verdict += " " + s.Value
			}
			if s.Limit != "" && s.Verdict == "fail" {
				verdict += " above " + s.Limit
			}
		}
		fmt.Fprintf(&b, "| %d | %d%% | %s | %d + %d | %s | %s | %s |", i+1, s.Requested, pctCell(s.Actual), s.Canary, s.Stable, held,
			orDash(s.CanaryErrors), orDash(s.StableErrors))
		if lat {
			fmt.Fprintf(&b, " %s | %s |", orDash(s.CanaryP99), orDash(s.StableP99))
		}
		fmt.Fprintf(&b, " %s |\n", cell(verdict))
	}
	b.WriteString("\n")
	if len(inexact) > 0 {
		fmt.Fprintf(&b, "> [!WARNING]\n> Traffic splits by ready replicas: the replica count cannot give every weight asked (%s).\n\n", strings.Join(inexact, ", "))
	}
	if chart := errorChart(c); chart != "" {
		b.WriteString(chart)
	}
	return b.String()
}

// errorChart is a mermaid xychart of the canary's error rate per stage that ran, beside the
// threshold ("" without metrics).
func errorChart(c *outcome.CanaryReport) string {
	if !c.Metrics {
		return ""
	}
	var labels, rates, limit []string
	top := 0.0
	var thr float64
	fmt.Sscanf(strings.TrimSuffix(c.ErrorLimit, "%"), "%g", &thr)
	for i, s := range c.Stages {
		if !s.Ran || s.ErrorRate < 0 {
			continue
		}
		labels = append(labels, fmt.Sprintf("\"%d: %d%%\"", i+1, s.Requested))
		rates = append(rates, fmt.Sprintf("%.2f", s.ErrorRate))
		limit = append(limit, fmt.Sprintf("%g", thr))
		top = math.Max(top, s.ErrorRate)
	}
	if len(labels) == 0 {
		return ""
	}
	top = math.Ceil(math.Max(top, thr)*1.2 + 0.5)
	return fmt.Sprintf("```mermaid\nxychart-beta\n    title \"Canary error rate per stage (%%) against the %s threshold\"\n    x-axis [%s]\n    y-axis \"error rate %%\" 0 --> %g\n    bar [%s]\n    line [%s]\n```\n\n",
		c.ErrorLimit, strings.Join(labels, ", "), top, strings.Join(rates, ", "), strings.Join(limit, ", "))
}

func pctCell(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f%%", f)
	}
	return fmt.Sprintf("%.1f%%", f)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
