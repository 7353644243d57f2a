package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/outcome"
)

// The CLI's text: aligned plain text, no markdown, golden files (-update rewrites them).
func TestTextGolden(t *testing.T) {
	for name, o := range map[string]outcome.Outcome{"succeeded": succeededOutcome(), "rolled-back": rolledBackOutcome(), "dry-run": dryRunOutcome()} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			tx := &Text{W: &b}
			for _, e := range o.Timeline {
				tx.Event(context.Background(), e)
			}
			if err := tx.Finish(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			for _, md := range []string{"|---", "| Status", "```", "## ", "**"} {
				if strings.Contains(got, md) {
					t.Errorf("text output has markdown %q:\n%s", md, got)
				}
			}
			if strings.Contains(got, "\033[") {
				t.Errorf("colour without a terminal:\n%s", got)
			}
			path := filepath.Join("testdata", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./report -run TestTextGolden -update creates it)", err)
			}
			if string(want) != got {
				t.Errorf("text differs from %s (-update to accept):\n%s", path, firstDiff(string(want), got))
			}
		})
	}
}

// On a terminal: colour, and a live count during a wait, cleared by the next line.
func TestTextColourAndProgress(t *testing.T) {
	var b bytes.Buffer
	tx := &Text{W: &lockedBuffer{b: &b}, Color: true, Progress: true}
	tx.Event(context.Background(), outcome.Event{Phase: "verify", Message: "watching it for 3s", Wait: 3 * time.Second})
	time.Sleep(1500 * time.Millisecond)
	tx.Event(context.Background(), outcome.Event{Phase: "done", Level: outcome.Error, Message: "bad"})
	got := b.String()
	for _, want := range []string{"of up to 3s", "\r\033[K", "\033[31m"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q: %q", want, got)
		}
	}
}

type lockedBuffer struct{ b *bytes.Buffer }

func (l *lockedBuffer) Write(p []byte) (int, error) { return l.b.Write(p) }

// textOf is the CLI's text of o.
func textOf(t *testing.T, o outcome.Outcome) string {
	t.Helper()
	var b bytes.Buffer
	if err := (&Text{W: &b}).Finish(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// One description, every view: each field of outcome.Fields that has a value shows in the
// CLI's text — a fact as a row with its value, a detail (JSON) in a section under its label.
func TestTextShowsEveryField(t *testing.T) {
	o := everyField()
	o.Revision, o.PreviousRevision, o.RollbackRevision, o.Canary.Weight = 81, 72, 63, 27
	text := textOf(t, o)
	for _, f := range outcome.Fields {
		v := f.Value(o)
		switch {
		case v == "":
			t.Errorf("%s: the test's outcome gives it no value", f.Name)
		case f.Detail:
			if !strings.Contains(text, "\n"+strings.ToLower(f.Label)+":") {
				t.Errorf("the text has no section for %s:\n%s", f.Name, text)
			}
		case f.Name == "duration_seconds":
			if !strings.Contains(text, "  duration ") || !strings.Contains(text, " 42s\n") {
				t.Errorf("the text shows no duration (42s):\n%s", text)
			}
		case !strings.Contains(text, v):
			t.Errorf("the text does not show %s (%q):\n%s", f.Name, v, text)
		}
	}
}

// A field added to outcome.Fields shows in the CLI's text without a line of the text
// reporter: a fact as a row (its label in lower case), a detail as a section; the duration
// stays the last row.
func TestTextANewFieldGetsARow(t *testing.T) {
	saved := outcome.Fields
	t.Cleanup(func() { outcome.Fields = saved })
	outcome.Fields = append(append([]outcome.Field(nil), saved...),
		outcome.Field{Name: "ticket", Label: "Change ticket", Value: func(outcome.Outcome) string { return "CHG-42" }},
		outcome.Field{Name: "approvals", Label: "Approvals", Detail: true, Value: func(outcome.Outcome) string { return `["ana"]` }})
	text := textOf(t, succeededOutcome())
	row := regexp.MustCompile(`(?m)^  change ticket +CHG-42\n  duration +42.4s\n`)
	if !row.MatchString(text) {
		t.Errorf("the text has no row for a new field before the duration:\n%s", text)
	}
	if !strings.Contains(text, "\napprovals:\n  [\"ana\"]\n") {
		t.Errorf("the text has no section for a new detail:\n%s", text)
	}
}
