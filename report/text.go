package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// Text reports to a person at a terminal: timeline lines as they happen, then the outcome as
// aligned plain text. Color adds ANSI colours (only on a terminal, never with NO_COLOR);
// Progress shows a live count during long waits (a verify window, a health check retrying).
type Text struct {
	W        io.Writer
	Color    bool
	Progress bool

	mu       sync.Mutex
	stopWait func()
}

var _ outcome.Reporter = (*Text)(nil)

const (
	red, yellow, green, dim, bold, reset = "\033[31m", "\033[33m", "\033[32m", "\033[2m", "\033[1m", "\033[0m"
)

func (t *Text) paint(color, s string) string {
	if !t.Color || s == "" {
		return s
	}
	return color + s + reset
}

// Event prints one timeline line; an event that starts a wait shows its progress on a
// terminal until the next line.
func (t *Text) Event(_ context.Context, e outcome.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endWait()
	mark, color := "  ", ""
	switch e.Level {
	case outcome.Error:
		mark, color = "✗ ", red
	case outcome.Warn:
		mark, color = "! ", yellow
	}
	msg := strings.ReplaceAll(e.Message, "\n", " ") // one event, one line
	fmt.Fprintf(t.W, "%s %s%-12s %s\n", t.paint(dim, fmt.Sprintf("[+%5.1fs]", e.At.Seconds())), t.paint(color, mark), e.Phase, t.paint(color, msg))
	if t.Progress && e.Wait > 0 {
		t.startWait(e.Wait)
	}
}

// startWait rewrites one status line every second: how long of the wait has passed.
func (t *Text) startWait(total time.Duration) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				t.mu.Lock()
				fmt.Fprintf(t.W, "\r%s", t.paint(dim, fmt.Sprintf("           … %s of up to %s", time.Since(start).Round(time.Second), total)))
				t.mu.Unlock()
			}
		}
	}()
	t.stopWait = func() {
		close(done)
		t.mu.Unlock() // let a tick that waits for the lock finish
		<-finished
		t.mu.Lock()
		fmt.Fprint(t.W, "\r\033[K")
	}
}

func (t *Text) endWait() {
	if t.stopWait != nil {
		t.stopWait()
		t.stopWait = nil
	}
}

// Finish prints the outcome: one line saying what happened, the facts aligned, then the
// canary's stages, the rollback chain, the revisions, the diagnosis and a dry run's diff.
func (t *Text) Finish(_ context.Context, o outcome.Outcome) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endWait()
	color := green
	if o.ExitCode() != 0 {
		color = red
	}
	fmt.Fprintf(t.W, "\n%s %s\n\n", t.paint(bold+color, plainHeadline(o)), o.Message)
	t.facts(o)
	if o.Canary != nil {
		t.stages(o.Canary)
	}
	t.chain(o.Chain)
	t.revisions(o.Revisions)
	if o.Diagnosis != nil {
		t.diagnosis(*o.Diagnosis)
	}
	t.details(o)
	if o.Status == outcome.DryRun {
		t.diff(o.Diff)
	}
	return nil
}

// facts prints the outcome's facts, aligned: the rows of textOrder, then every other field of
// outcome.Fields that has a value (its label in lower case, its value), then the duration.
func (t *Text) facts(o outcome.Outcome) {
	tw := tabwriter.NewWriter(t.W, 0, 4, 2, ' ', 0)
	for _, r := range textFacts(o) {
		fmt.Fprintf(tw, "  %s\t%s\n", r[0], r[1])
	}
	_ = tw.Flush()
}

// textOrder is the order of the text's first rows: fields of outcome.Fields and the rows of the
// run's subject (release, chart, image tag, recovered), by name.
var textOrder = []string{"status", "release", "chart", "image tag", "previous_revision", "revision", "rollback_revision",
	"active_color", "canary_weight", "reason", "failure_reason", "recovered"}

// textRows are the rows the text makes itself, by name: the subject's, and the fields it shows
// otherwise than their description does. A row with an empty value is left out.
var textRows = map[string]func(o outcome.Outcome) (label, value string){
	"status": func(o outcome.Outcome) (string, string) {
		if o.Mode == config.ModeHistory {
			return "", ""
		}
		return "status", string(o.Status)
	},
	"release": func(o outcome.Outcome) (string, string) { return "release", o.Release + " in namespace " + o.Namespace },
	"chart": func(o outcome.Outcome) (string, string) {
		if !textChartRow(o) {
			return "", ""
		}
		return "chart", strings.TrimSpace(o.Chart + " " + o.ChartVersion + " " + o.ChartDigest)
	},
	"image tag": func(o outcome.Outcome) (string, string) {
		if o.Mode != config.ModeDeploy && o.Mode != "" {
			return "", ""
		}
		return "image tag", o.ImageTag
	},
	"previous_revision": func(o outcome.Outcome) (string, string) {
		if !o.HistoryRead || o.Mode == config.ModeHistory {
			return "", ""
		}
		return "revision before", rev(o.PreviousRevision)
	},
	"revision": func(o outcome.Outcome) (string, string) {
		switch {
		case o.Revision <= 0:
			return "", ""
		case o.Mode == config.ModeHistory:
			return "current revision", fmt.Sprint(o.Revision)
		}
		return "revision deployed", fmt.Sprint(o.Revision)
	},
	"rollback_revision": func(o outcome.Outcome) (string, string) {
		if o.RollbackRevision <= 0 {
			return "", ""
		}
		return "rolled back to", rolledBackTo(o)
	},
	"canary_weight": func(o outcome.Outcome) (string, string) {
		if o.Canary == nil {
			return "", ""
		}
		return "canary weight", fmt.Sprintf("%d%%", o.Canary.Weight)
	},
	"chart_version": func(o outcome.Outcome) (string, string) { return textBesideChart(o, "chart version", o.ChartVersion) },
	"chart_digest":  func(o outcome.Outcome) (string, string) { return textBesideChart(o, "chart digest", o.ChartDigest) },
	"recovered":     func(o outcome.Outcome) (string, string) { return "recovered", o.Recovered },
	"duration_seconds": func(o outcome.Outcome) (string, string) {
		return "duration", o.Duration.Round(100 * time.Millisecond).String()
	},
}

// textFacts are the rows of the text's facts for o, in order, each a label and a value.
func textFacts(o outcome.Outcome) [][2]string {
	fields := make(map[string]outcome.Field, len(outcome.Fields))
	for _, f := range outcome.Fields {
		fields[f.Name] = f
	}
	var rows [][2]string
	add := func(name string) {
		label, value := "", ""
		if row, ok := textRows[name]; ok {
			label, value = row(o)
		} else if f, ok := fields[name]; ok && !f.Detail {
			label, value = strings.ToLower(f.Label), f.Value(o)
		}
		if value != "" {
			rows = append(rows, [2]string{label, value})
		}
	}
	named := map[string]bool{"duration_seconds": true}
	for _, name := range textOrder {
		named[name] = true
		add(name)
	}
	for _, f := range outcome.Fields {
		if !named[f.Name] {
			add(f.Name)
		}
	}
	add("duration_seconds")
	return rows
}

// textChartRow says whether the text shows a chart row: a deploy's, when it names one.
func textChartRow(o outcome.Outcome) bool {
	return o.Chart != "" && (o.Mode == config.ModeDeploy || o.Mode == "")
}

// textBesideChart is a row of the chart's version or digest, left out when the chart row
// shows it.
func textBesideChart(o outcome.Outcome, label, value string) (string, string) {
	if textChartRow(o) {
		return "", ""
	}
	return label, value
}

// details prints the detail fields of outcome.Fields that have no section of their own here
// (the diagnosis and the revisions have), each under its label, as its JSON.
func (t *Text) details(o outcome.Outcome) {
	for _, f := range outcome.Fields {
		if v := f.Value(o); f.Detail && v != "" && f.Name != "diagnosis" && f.Name != "revisions" {
			fmt.Fprintf(t.W, "\n%s:\n  %s\n", strings.ToLower(f.Label), v)
		}
	}
}

// stages prints the canary's stages.
func (t *Text) stages(c *outcome.CanaryReport) {
	fmt.Fprintln(t.W, "\ncanary stages:")
	if !c.Metrics {
		fmt.Fprintln(t.W, "  no metrics were analysed (no --prometheus-url): pod health only")
	}
	tw := tabwriter.NewWriter(t.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tasked\tlive\tcanary+stable\theld\tcanary errors\tstable errors\tevidence\tverdict")
	for i, s := range c.Stages {
		verdict := "not run"
		if s.Ran {
			verdict = strings.TrimSpace(s.Verdict + " " + s.Metric + " " + s.Value)
		}
		fmt.Fprintf(tw, "  %d\t%d%%\t%s\t%d+%d\t%s\t%s\t%s\t%s\t%s\n", i+1, s.Requested, pctCell(s.Actual), s.Canary, s.Stable,
			secs(s.Held), orDash(s.CanaryErrors), orDash(s.StableErrors), evidenceCell(s), verdict)
	}
	_ = tw.Flush()
}

// chain prints a rollback's chain of attempts.
func (t *Text) chain(chain []outcome.Step) {
	if len(chain) == 0 {
		return
	}
	fmt.Fprintln(t.W, "\nrollback chain:")
	tw := tabwriter.NewWriter(t.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tto revision\tas revision\trolled out in\tverified for\tverdict")
	for i, st := range chain {
		fmt.Fprintf(tw, "  %d\t%d\t%d\t%s\t%s\t%s\n", i+1, st.Target, st.NewRevision, secs(st.Rollout), secs(st.Verify), st.Verdict)
	}
	_ = tw.Flush()
}

// revisions prints the release's history.
func (t *Text) revisions(revs []outcome.Revision) {
	if len(revs) == 0 {
		return
	}
	fmt.Fprintln(t.W, "\nrevisions:")
	tw := tabwriter.NewWriter(t.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  revision\tupdated\tstatus\timages\tdescription")
	for _, rv := range revs {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", rv.Revision, rv.Updated.UTC().Format("2006-01-02 15:04:05Z"), rv.Status,
			strings.Join(ImageTags(rv.Images), ", "), rv.Description)
	}
	_ = tw.Flush()
}

// diff prints a dry run's diff against the live release, coloured.
func (t *Text) diff(d string) {
	if d == "" {
		fmt.Fprintln(t.W, "\nthe upgrade would change nothing")
		return
	}
	fmt.Fprintln(t.W, "\ndiff against the live release:")
	for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "+"):
			l = t.paint(green, l)
		case strings.HasPrefix(l, "-"):
			l = t.paint(red, l)
		}
		fmt.Fprintln(t.W, "  "+l)
	}
}

// diagnosis prints the diagnosis as plain text: what, why, the hint, the evidence.
func (t *Text) diagnosis(d diagnose.Diagnosis) {
	fmt.Fprintf(t.W, "\ndiagnosis: %s\n  %s\n  hint: %s\n", t.paint(bold, string(d.Category)), d.Summary, d.Hint)
	for _, p := range d.Pods {
		fmt.Fprintf(t.W, "  pod %s: %s, ready %v\n", p.Name, p.Phase, p.Ready)
		for _, c := range p.Containers {
			state := strings.TrimSpace(strings.Join([]string{c.State, c.Reason, c.Message}, " "))
			fmt.Fprintf(t.W, "    container %s (%s): %s\n", c.Name, c.Image, state)
			if c.LastTerminated != "" {
				fmt.Fprintf(t.W, "      last terminated: %s\n", c.LastTerminated)
			}
			if len(c.PreviousLogs) > 0 {
				fmt.Fprintln(t.W, "      last log lines (previous container):")
				for _, l := range c.PreviousLogs {
					fmt.Fprintln(t.W, "        "+t.paint(dim, l))
				}
			}
		}
	}
	if len(d.Events) > 0 {
		fmt.Fprintln(t.W, "  events:")
		for _, e := range d.Events {
			fmt.Fprintf(t.W, "    %s %s: %s\n", e.Object, e.Reason, e.Message)
		}
	}
}

// plainHeadline is Headline without the emoji, for a terminal.
func plainHeadline(o outcome.Outcome) string {
	h := Headline(o)
	if i := strings.IndexByte(h, ' '); i >= 0 {
		h = h[i+1:]
	}
	mark := "✓"
	if o.ExitCode() != 0 {
		mark = "✗"
	}
	return mark + " " + h + ":"
}
