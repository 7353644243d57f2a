package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
