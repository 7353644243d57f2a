package diagnose

import (
	"fmt"
	"strings"
	"time"
)

// maxCellLen caps a table cell's text, in bytes.
const maxCellLen = 300

// Markdown renders the diagnosis as a section of a GitHub job summary: the category and
// summary line, the hint, any further signals, a table of the failing pods' containers
// (state, reason, restarts, exit code), a table of the events, and for each container with
// previous logs a fenced code block headed "Last log lines of <pod>/<container> (previous
// container)". Table cells are kept on one line with `|` escaped. It has no title of its own
// and its headings are level 4, to sit under the caller's "### Diagnosis".
func (d Diagnosis) Markdown() string {
	var b strings.Builder
	if d.Category == Analysis {
		b.WriteString("**Canary analysis failed")
	} else {
		b.WriteString("**Rollout failed")
	}
	if d.Category != "" {
		fmt.Fprintf(&b, " (`%s`)", d.Category)
	}
	b.WriteString(":**")
	if d.Summary != "" {
		b.WriteString(" " + text(d.Summary))
	}
	b.WriteString("\n\n")
	if d.Hint != "" {
		fmt.Fprintf(&b, "> **Hint:** %s\n\n", text(d.Hint))
	}
	if len(d.Signals) > 1 {
		b.WriteString("Other signals:\n\n")
		for _, s := range d.Signals[1:] {
			fmt.Fprintf(&b, "- `%s` %s\n", s.Category, text(Summarize(s)))
		}
		b.WriteString("\n")
	}
	writePods(&b, d.Pods)
	writeEvents(&b, d.Events)
	writeLogs(&b, d.Pods)
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// writePods renders the failing pods' containers as a table, one row per container (one row
// for a pod without containers).
func writePods(b *strings.Builder, pods []PodEvidence) {
	if len(pods) == 0 {
		return
	}
	b.WriteString("#### Failing pods\n\n")
	b.WriteString("| Pod | Container | State | Reason | Restarts | Exit code | Last terminated | Message |\n")
	b.WriteString("|---|---|---|---|---:|---:|---|---|\n")
	for _, p := range pods {
		ready := "not ready"
		if p.Ready {
			ready = "ready"
		}
		pod := fmt.Sprintf("%s (%s, %s)", p.Name, orDash(p.Phase), ready)
		if len(p.Containers) == 0 {
			fmt.Fprintf(b, "| %s | - | - | - | - | - | - | - |\n", cell(pod))
			continue
		}
		for _, c := range p.Containers {
			state := orDash(c.State)
			if c.State == "running" && !c.Ready {
				state = "running, not ready"
			}
			exit := "-"
			if c.ExitCode != nil {
				exit = fmt.Sprint(*c.ExitCode)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s | %s | %s |\n",
				cell(pod), cell(c.Name), cell(state), cell(orDash(c.Reason)), c.Restarts, exit,
				cell(orDash(c.LastTerminated)), cell(orDash(c.Message)))
		}
	}
	b.WriteString("\n")
}

// writeEvents renders the events as a table.
func writeEvents(b *strings.Builder, events []EventEvidence) {
	if len(events) == 0 {
		return
	}
	b.WriteString("#### Events\n\n")
	b.WriteString("| Last seen | Object | Type | Reason | Count | Message |\n")
	b.WriteString("|---|---|---|---|---:|---|\n")
	for _, e := range events {
		seen := "-"
		if !e.LastSeen.IsZero() {
			seen = e.LastSeen.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s |\n",
			seen, cell(e.Object), cell(e.Type), cell(e.Reason), e.Count, cell(orDash(e.Message)))
	}
	b.WriteString("\n")
}

// writeLogs renders each container's previous logs as a fenced code block.
func writeLogs(b *strings.Builder, pods []PodEvidence) {
	for _, p := range pods {
		for _, c := range p.Containers {
			if len(c.PreviousLogs) == 0 {
				continue
			}
			body := strings.Join(c.PreviousLogs, "\n")
			fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
			fmt.Fprintf(b, "#### Last log lines of %s/%s (previous container)\n\n", text(p.Name), text(c.Name))
			fmt.Fprintf(b, "%stext\n%s\n%s\n\n", fence, body, fence)
		}
	}
}

// longestRun is the length of the longest run of r in s.
func longestRun(s string, r rune) int {
	longest, n := 0, 0
	for _, c := range s {
		if c == r {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}

// htmlEscaper keeps text from being read as HTML by GitHub's Markdown renderer.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// text makes s safe as one line of Markdown text.
func text(s string) string {
	return htmlEscaper.Replace(strings.Join(strings.Fields(s), " "))
}

// cell makes s safe as a Markdown table cell: one line, HTML escaped, `|` escaped, cut to
// maxCellLen.
func cell(s string) string {
	return strings.ReplaceAll(text(truncate(s, maxCellLen)), "|", `\|`)
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
