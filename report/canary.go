package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// canaryMarkdown is the canary's section of the job summary: a table of the stages (weights
// asked and given, replicas, both tracks' figures, the evidence against the canary, verdict)
// and charts of the canary's error rate per stage against the threshold and of the evidence
// against its bound.
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
	if c.Metrics {
		b.WriteString(" evidence (bound) |")
	}
	b.WriteString(" verdict |\n|---:|---:|---:|---|---:|---|---|")
	if lat {
		b.WriteString("---|---|")
	}
	if c.Metrics {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for i, s := range c.Stages {
		if math.Abs(s.Actual-float64(s.Requested)) >= 0.5 {
			inexact = append(inexact, fmt.Sprintf("%d%% → %s", s.Requested, pctCell(s.Actual)))
		}
		fmt.Fprintf(&b, "| %d | %d%% | %s | %d + %d | %s | %s | %s |", i+1, s.Requested, pctCell(s.Actual), s.Canary, s.Stable, heldCell(s),
			orDash(s.CanaryErrors), orDash(s.StableErrors))
		if lat {
			fmt.Fprintf(&b, " %s | %s |", orDash(s.CanaryP99), orDash(s.StableP99))
		}
		if c.Metrics {
			fmt.Fprintf(&b, " %s |", evidenceCell(s))
		}
		fmt.Fprintf(&b, " %s |\n", cell(verdictCell(s)))
	}
	b.WriteString("\n")
	if c.Metrics {
		b.WriteString("Each stage is judged by anytime-valid tests (the error rate against the threshold and, with `baseline: stable`, the errors and the latency distribution against the stable track's): a test decides when its evidence reaches its bound, and a canary that is not worse is aborted with a chance of at most `alpha` per stage, however often it is looked at. The evidence column shows the test nearest to deciding at the stage's last look.\n\n")
	}
	if len(inexact) > 0 {
		fmt.Fprintf(&b, "> [!WARNING]\n> Traffic splits by ready replicas: the replica count cannot give every weight asked (%s).\n\n", strings.Join(inexact, ", "))
	}
	b.WriteString(errorChart(c))
	b.WriteString(evidenceChart(c))
	return b.String()
}

func heldCell(s outcome.StageReport) string {
	if !s.Ran {
		return "–"
	}
	return secs(s.Held)
}

// verdictCell is a stage's verdict and, unless it passed, what decided it.
func verdictCell(s outcome.StageReport) string {
	if !s.Ran {
		return "not run"
	}
	verdict := orDash(s.Verdict)
	switch s.Verdict {
	case "pass":
		verdict = "✅ pass"
	case "fail":
		verdict = "❌ fail"
	case "no data":
		verdict = "⚠️ no data"
	case outcome.VerdictBoth:
		return fmt.Sprintf("⚠️ both tracks above %s (%s): not the canary's doing, passed", s.Limit, s.Value)
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
	return verdict
}

// evidenceCell is the strongest test's evidence against its bound, and when it was read.
func evidenceCell(s outcome.StageReport) string {
	if s.Test == "" {
		return "–"
	}
	return fmt.Sprintf("%s of %s (%s, at %s)", analysis.FormatE(s.Evidence), analysis.FormatE(s.Bound), s.Test, secs(s.Decided))
}

// evidenceChart is a mermaid xychart of the evidence against the canary per stage that ran
// (log10 of its e-value, capped at 6), beside the bound at which a test decides.
func evidenceChart(c *outcome.CanaryReport) string {
	if !c.Metrics {
		return ""
	}
	var labels, bars, bound []string
	for i, s := range c.Stages {
		if !s.Ran || s.Test == "" {
			continue
		}
		labels = append(labels, fmt.Sprintf("\"%d: %d%%\"", i+1, s.Requested))
		bars = append(bars, fmt.Sprintf("%.2f", math.Max(-3, math.Min(6, math.Log10(s.Evidence)))))
		bound = append(bound, fmt.Sprintf("%.2f", math.Log10(s.Bound)))
	}
	if len(labels) == 0 {
		return ""
	}
	return fmt.Sprintf("```mermaid\nxychart-beta\n    title \"Evidence against the canary per stage (log10 e-value) against the bound\"\n    x-axis [%s]\n    y-axis \"log10 e\" -3 --> 6\n    bar [%s]\n    line [%s]\n```\n\n",
		strings.Join(labels, ", "), strings.Join(bars, ", "), strings.Join(bound, ", "))
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
