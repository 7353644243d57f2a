// Package report is everything a user sees of a run: the job summary, outputs and annotations
// on a GitHub runner (actions.go), plain text on a terminal (text.go).
package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/outcome"
)

var headline = map[outcome.Status]string{
	outcome.Succeeded:  "✅ deployed",
	outcome.RolledBack: "↩️ rolled back",
	outcome.Failed:     "❌ failed",
	outcome.DryRun:     "🔍 dry run",
	// The two stops on purpose of a deploy with auto_promote false.
	outcome.AwaitingPromotion: "⏸️ awaiting promotion",
	outcome.Aborted:           "⏹️ aborted",
}

// inRows are the fields the summary's table shows in rows of their own making; every other
// field with a value gets a row from its description.
var inRows = map[string]bool{"status": true, "revision": true, "previous_revision": true, "rollback_revision": true,
	"active_color": true, "canary_weight": true, "reason": true, "failure_reason": true, "duration_seconds": true}

// factText is a fact's value as the summary shows it.
func factText(f outcome.Fact) string {
	if f.Code {
		return "`" + f.Value + "`"
	}
	return cell(f.Value)
}

// Links are where a summary points: the workflow run, the environment.
type Links struct {
	Run, Environment, EnvironmentURL string
}

// Markdown renders the outcome as a job summary, without links (MarkdownWith).
func Markdown(o outcome.Outcome) string { return MarkdownWith(o, Links{}) }

// MarkdownWith renders the outcome as a job summary: the outcome in one line, a diagram of the
// run's phases (a canary's stages among them), the diagnosis with its evidence and hint, the
// links; then the release and its revisions, the stages, the timeline, and for a dry run the
// diff.
func MarkdownWith(o outcome.Outcome, l Links) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Shepherd: `%s` %s\n\n%s\n\n", o.Release, Headline(o), o.Message)
	b.WriteString(phaseDiagram(o))
	if o.Diagnosis != nil {
		b.WriteString("### Diagnosis\n\n")
		b.WriteString(o.Diagnosis.Markdown())
		b.WriteString("\n")
	}
	writeLinks(&b, l)
	summaryTable(&b, o)
	fmt.Fprintf(&b, "| Duration | %s |\n\n", o.Duration.Round(100*time.Millisecond))
	if len(o.Timeline) > 0 {
		b.WriteString("### Timeline\n\n| time | phase | what happened |\n|---:|---|---|\n")
		for _, e := range o.Timeline {
			fmt.Fprintf(&b, "| +%.1fs | %s | %s%s |\n", e.At.Seconds(), e.Phase, levelMark(e.Level), cell(e.Message))
		}
		b.WriteString("\n")
	}
	if o.Canary != nil {
		b.WriteString(canaryMarkdown(o.Canary))
	}
	if len(o.Chain) > 0 {
		b.WriteString("### Rollback chain\n\n| # | rolled back to | as revision | rolled out in | verified for | verdict |\n|---:|---:|---:|---:|---:|---|\n")
		for i, st := range o.Chain {
			fmt.Fprintf(&b, "| %d | %d | %d | %s | %s | %s |\n", i+1, st.Target, st.NewRevision, secs(st.Rollout), secs(st.Verify), cell(st.Verdict))
		}
		b.WriteString("\n")
	}
	if len(o.Revisions) > 0 {
		b.WriteString("### Revisions\n\n| revision | updated | status | images | chart | description |\n|---:|---|---|---|---|---|\n")
		for _, rv := range o.Revisions {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", rv.Revision, rv.Updated.UTC().Format("2006-01-02 15:04:05Z"),
				rv.Status, cell(strings.Join(ImageTags(rv.Images), ", ")), revisionChart(rv), cell(rv.Description))
		}
		b.WriteString("\n")
	}
	if o.Status == outcome.DryRun {
		if o.Diff == "" {
			b.WriteString("### Diff\n\nThe upgrade would change nothing.\n")
		} else {
			fence := "```"
			for strings.Contains(o.Diff, fence) {
				fence += "`"
			}
			fmt.Fprintf(&b, "### Diff against the live release\n\n%sdiff\n%s\n%s\n", fence, strings.TrimRight(o.Diff, "\n"), fence)
		}
	}
	return b.String()
}

// Headline is the outcome in a few words: what happened, or for mode history what is shown.
func Headline(o outcome.Outcome) string {
	if o.Mode == config.ModeHistory && o.Status == outcome.Succeeded {
		return "📜 history"
	}
	if o.Mode == config.ModeRollback && o.Status == outcome.RolledBack {
		return "↩️ rolled back (as asked)"
	}
	return headline[o.Status]
}

// ImageTags shortens images to name:tag (the repository's last path element and the tag).
func ImageTags(images []string) []string {
	out := make([]string, len(images))
	for i, img := range images {
		out[i] = img[strings.LastIndex(img, "/")+1:]
	}
	return out
}

func secs(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func rev(v int) string {
	if v == 0 {
		return "none (first install)"
	}
	return fmt.Sprint(v)
}

func levelMark(l outcome.Level) string {
	switch l {
	case outcome.Error:
		return "❌ "
	case outcome.Warn:
		return "⚠️ "
	}
	return ""
}

// cell makes text safe inside a markdown table cell (messages may quote pod logs).
var cellEscaper = strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;")

func cell(s string) string { return cellEscaper.Replace(s) }

// rolledBackTo says what a rollback went back to: a Helm revision re-applied as a new one, or
// (blue-green) the colour that runs a revision, switched back to.
func rolledBackTo(o outcome.Outcome) string {
	if o.RollbackNewRevision == 0 {
		return fmt.Sprintf("revision %d (switched back to its colour, %s)", o.RollbackRevision, o.ActiveColor)
	}
	return fmt.Sprintf("revision %d (now serving as revision %d)", o.RollbackRevision, o.RollbackNewRevision)
}

// chartCell names the chart deployed: as given, the version it resolved to and its digest.
func chartCell(o outcome.Outcome) string {
	s := "`" + o.Chart + "`"
	if o.ChartVersion != "" {
		s += " version `" + o.ChartVersion + "`"
	}
	if o.ChartDigest != "" {
		s += " digest `" + o.ChartDigest + "`"
	}
	return s
}

// revisionChart is a revision's chart (name-version), with where it came from and a short
// digest when Shepherd recorded them.
func revisionChart(rv outcome.Revision) string {
	s := cell(rv.Chart)
	if rv.ChartSource != "" {
		s += " from `" + cell(rv.ChartSource) + "`"
	}
	if d := strings.TrimPrefix(rv.ChartDigest, "sha256:"); d != "" {
		s += " `sha256:" + d[:min(12, len(d))] + "`"
	}
	return s
}

// summaryTable writes the table of the release, the chart, the revisions and every other
// named result with a value (outcome.Fields), without its last row (the duration).
func summaryTable(b *strings.Builder, o outcome.Outcome) {
	b.WriteString("| | |\n|---|---|\n")
	if o.Mode != config.ModeHistory {
		fmt.Fprintf(b, "| Status | `%s` |\n", o.Status)
	}
	fmt.Fprintf(b, "| Release | `%s` in namespace `%s` |\n", o.Release, o.Namespace)
	if o.Chart != "" && o.Mode != config.ModeRollback && o.Mode != config.ModeHistory {
		fmt.Fprintf(b, "| Chart | %s |\n", chartCell(o))
	}
	if o.ImageTag != "" && o.Mode != config.ModeRollback && o.Mode != config.ModeHistory {
		fmt.Fprintf(b, "| Image tag | `%s` |\n", o.ImageTag)
	}
	if o.HistoryRead && o.Mode != config.ModeHistory { // else it is not known
		fmt.Fprintf(b, "| Revision before | %s |\n", rev(o.PreviousRevision))
	}
	if o.Revision > 0 && o.Mode == config.ModeHistory {
		fmt.Fprintf(b, "| Current revision | %d |\n", o.Revision)
	} else if o.Revision > 0 {
		fmt.Fprintf(b, "| Revision deployed | %d |\n", o.Revision)
	}
	if o.RollbackRevision > 0 {
		fmt.Fprintf(b, "| Rolled back to | %s |\n", rolledBackTo(o))
	}
	if o.ActiveColor != "" {
		fmt.Fprintf(b, "| Live colour | `%s` |\n", o.ActiveColor)
	}
	if o.Canary != nil {
		fmt.Fprintf(b, "| Canary weight | %d%% |\n", o.Canary.Weight)
	}
	if o.Reason != "" {
		fmt.Fprintf(b, "| Reason | %s |\n", cell(o.Reason))
	}
	if o.FailureReason != "" {
		fmt.Fprintf(b, "| Failure reason | `%s` |\n", o.FailureReason)
	}
	if o.Recovered != "" {
		fmt.Fprintf(b, "| Recovered | %s |\n", cell(o.Recovered))
	}
	chartRow := o.Chart != "" && o.Mode != config.ModeRollback && o.Mode != config.ModeHistory
	for _, f := range outcome.Facts(o) { // every other named result, as outcome.Fields describes it
		if !inRows[f.Name] && !(chartRow && (f.Name == "chart_version" || f.Name == "chart_digest")) {
			fmt.Fprintf(b, "| %s | %s |\n", f.Label, factText(f))
		}
	}
}

// writeLinks writes where the summary points: the workflow run, the environment.
func writeLinks(b *strings.Builder, l Links) {
	var links []string
	if l.Run != "" {
		links = append(links, "[the workflow run]("+l.Run+")")
	}
	if l.EnvironmentURL != "" {
		links = append(links, "["+orDash(l.Environment)+"]("+l.EnvironmentURL+")")
	} else if l.Environment != "" {
		links = append(links, "environment `"+l.Environment+"`")
	}
	if len(links) > 0 {
		fmt.Fprintf(b, "**Links:** %s\n\n", strings.Join(links, " · "))
	}
}
