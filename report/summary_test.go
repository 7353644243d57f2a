package report

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// seenAt is the fixed time of the test events.
var seenAt = time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)

func succeededOutcome() outcome.Outcome {
	return outcome.Outcome{
		Mode:             config.ModeDeploy,
		Status:           outcome.Succeeded,
		Release:          "web",
		Namespace:        "shop",
		Chart:            "./chart",
		ImageTag:         "v1.4.2",
		Revision:         8,
		PreviousRevision: 7, HistoryRead: true,
		Message:  "web is healthy on revision 8 (image tag v1.4.2)",
		Duration: 42*time.Second + 370*time.Millisecond,
		Timeline: []outcome.Event{
			{At: 100 * time.Millisecond, Phase: "pre-flight", Level: outcome.Info, Message: "chart ./chart renders 2 resources"},
			{At: 1200 * time.Millisecond, Phase: "upgrade", Level: outcome.Info, Message: "revision 8 written"},
			{At: 15 * time.Second, Phase: "watch", Level: outcome.Warn, Message: "slow | progress\nstill rolling"},
			{At: 30500 * time.Millisecond, Phase: "watch", Level: outcome.Info, Message: "web: 3/3 updated, 3 ready, 3 available, 3 total"},
			{At: 42300 * time.Millisecond, Phase: "done", Level: outcome.Info, Message: "healthy"},
		},
	}
}

func rolledBackDiagnosis() *diagnose.Diagnosis {
	exit := int32(1)
	return &diagnose.Diagnosis{
		Category: diagnose.CrashLoop,
		Summary:  "Pod web-5d4f-abc12: CrashLoopBackOff (back-off 40s restarting failed container=app)",
		Hint:     "The container starts and exits: read its last log lines below.",
		Signals: []diagnose.Signal{
			{Category: diagnose.CrashLoop, Object: "Pod/web-5d4f-abc12", Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=app"},
			{Category: diagnose.Probe, Object: "Pod/web-5d4f-def34", Reason: "Unhealthy", Message: "readiness probe failed"},
		},
		Pods: []diagnose.PodEvidence{{
			Name: "web-5d4f-abc12", Phase: "Running", Ready: false,
			Containers: []diagnose.ContainerEvidence{{
				Name: "app", Image: "example.com/web:v1.5.0", State: "waiting", Reason: "CrashLoopBackOff",
				Message: "back-off 40s restarting failed container=app", ExitCode: &exit, Restarts: 3,
				LastTerminated: "exit 1 (Error)",
				PreviousLogs:   []string{"starting web v1.5.0", "panic: DATABASE_URL is not set", "exit status 2"},
			}},
		}},
		Events: []diagnose.EventEvidence{{
			Object: "Pod/web-5d4f-abc12", Type: "Warning", Reason: "BackOff",
			Message: "Back-off restarting failed container app in pod web-5d4f-abc12", Count: 4, LastSeen: seenAt,
		}},
	}
}

func rolledBackOutcome() outcome.Outcome {
	return outcome.Outcome{
		Mode:             config.ModeDeploy,
		Status:           outcome.RolledBack,
		Release:          "web",
		Namespace:        "shop",
		Chart:            "./chart",
		ImageTag:         "v1.5.0",
		Revision:         9,
		PreviousRevision: 8, HistoryRead: true,
		RollbackRevision:    8,
		RollbackNewRevision: 10,
		FailureReason:       diagnose.CrashLoop,
		Diagnosis:           rolledBackDiagnosis(),
		Message:             "revision 9 failed (crash-loop), rolled back to revision 8",
		Duration:            61*time.Second + 240*time.Millisecond,
		Chain:               []outcome.Step{{Target: 8, NewRevision: 10, Verdict: "verified"}},
		Timeline: []outcome.Event{
			{At: 200 * time.Millisecond, Phase: "pre-flight", Level: outcome.Info, Message: "ok"},
			{At: 1 * time.Second, Phase: "upgrade", Level: outcome.Info, Message: "revision 9 written"},
			{At: 20 * time.Second, Phase: "watch", Level: outcome.Error, Message: "Pod web-5d4f-abc12: CrashLoopBackOff"},
			{At: 21 * time.Second, Phase: "rollback", Level: outcome.Info, Message: "rolling back to revision 8"},
			{At: 61200 * time.Millisecond, Phase: "verify", Level: outcome.Info, Message: "revision 10 healthy"},
		},
	}
}

func dryRunOutcome() outcome.Outcome {
	return outcome.Outcome{
		Mode:             config.ModeDeploy,
		Status:           outcome.DryRun,
		Release:          "web",
		Namespace:        "shop",
		Chart:            "./chart",
		ImageTag:         "v1.6.0",
		PreviousRevision: 10, HistoryRead: true,
		Message:  "dry run: the upgrade would change 1 resource",
		Duration: 2*time.Second + 50*time.Millisecond,
		Diff: `~ Deployment/web
        containers:
          - name: app
-           image: example.com/web:v1.4.2
+           image: example.com/web:v1.6.0
            ports:
`,
	}
}

func TestMarkdownGolden(t *testing.T) {
	tests := []struct {
		name string
		o    outcome.Outcome
		// want are a few lines the summary must have whatever the golden file says.
		want []string
	}{
		{name: "succeeded", o: succeededOutcome(), want: []string{
			"## Shepherd: `web` ✅ deployed", "| Revision deployed | 8 |", "| Duration | 42.4s |", "### Timeline",
			`slow \| progress still rolling`,
		}},
		{name: "rolled-back", o: rolledBackOutcome(), want: []string{
			"↩️ rolled back", "| Rolled back to | revision 8 (now serving as revision 10) |",
			"| Failure reason | `crash-loop` |", "### Diagnosis", "panic: DATABASE_URL is not set", "2026-03-01T12:00:30Z",
		}},
		{name: "dry-run", o: dryRunOutcome(), want: []string{
			"🔍 dry run", "| Revision before | 10 |", "```diff\n~ Deployment/web", "+           image: example.com/web:v1.6.0\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Markdown(tt.o)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary lacks %q", w)
				}
			}
			path := filepath.Join("testdata", tt.name+".md")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -run TestMarkdownGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Markdown differs from %s (go test ./report -run TestMarkdownGolden -update to accept):\n%s", path, firstDiff(string(want), got))
			}
		})
	}
}

// firstDiff describes the first line where got differs from want.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return "line " + strconv.Itoa(i+1) + ":\n want " + quoteLine(wl, i < len(w)) + "\n  got " + quoteLine(gl, i < len(g))
		}
	}
	return "(no line differs)"
}

func quoteLine(s string, present bool) string {
	if !present {
		return "(end of text)"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func TestMarkdownDryRunWithoutChanges(t *testing.T) {
	o := dryRunOutcome()
	o.Diff = ""
	got := Markdown(o)
	if !strings.Contains(got, "would change nothing") {
		t.Errorf("dry run without a diff does not say nothing changes:\n%s", got)
	}
	if strings.Contains(got, "```diff") {
		t.Errorf("dry run without a diff has a diff block:\n%s", got)
	}
}

func TestMarkdownFirstInstall(t *testing.T) {
	o := succeededOutcome()
	o.PreviousRevision, o.Revision = 0, 1
	if got := Markdown(o); !strings.Contains(got, "| Revision before | none (first install) |") {
		t.Errorf("first install summary:\n%s", got)
	}
}

func TestOutputs(t *testing.T) {
	wantKeys := []string{"active_color", "canary_weight", "chart_digest", "chart_version", "diagnosis", "duration_seconds", "failure_reason", "previous_revision", "reason", "revision",
		"revisions", "rollback_revision", "status"}

	t.Run("succeeded", func(t *testing.T) {
		o := succeededOutcome()
		o.ChartVersion, o.ChartDigest = "1.4.2", "sha256:9f2c"
		out := Outputs(o)
		if keys := sortedKeys(out); !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("keys = %q, want %q", keys, wantKeys)
		}
		want := map[string]string{
			"status": "succeeded", "revision": "8", "previous_revision": "7", "rollback_revision": "",
			"failure_reason": "", "diagnosis": "", "duration_seconds": "42.4", "revisions": "", "reason": "", "active_color": "", "canary_weight": "",
			"chart_version": "1.4.2", "chart_digest": "sha256:9f2c",
		}
		if !reflect.DeepEqual(out, want) {
			t.Errorf("Outputs = %q\nwant      %q", out, want)
		}
	})

	t.Run("first install failed: zero revisions are empty", func(t *testing.T) {
		out := Outputs(outcome.Outcome{Status: outcome.Failed, Release: "web", Duration: 1500 * time.Millisecond})
		if keys := sortedKeys(out); !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("keys = %q, want %q", keys, wantKeys)
		}
		for _, k := range []string{"revision", "previous_revision", "rollback_revision", "diagnosis", "failure_reason"} {
			if out[k] != "" {
				t.Errorf("%s = %q, want empty", k, out[k])
			}
		}
		if out["status"] != "failed" || out["duration_seconds"] != "1.5" {
			t.Errorf("status = %q, duration_seconds = %q", out["status"], out["duration_seconds"])
		}
	})

	t.Run("rolled back: diagnosis is JSON", func(t *testing.T) {
		o := rolledBackOutcome()
		out := Outputs(o)
		if keys := sortedKeys(out); !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("keys = %q, want %q", keys, wantKeys)
		}
		if out["status"] != "rolled-back" || out["revision"] != "9" || out["previous_revision"] != "8" ||
			out["rollback_revision"] != "8" || out["failure_reason"] != "crash-loop" || out["duration_seconds"] != "61.2" {
			t.Errorf("Outputs = %q", out)
		}
		if !json.Valid([]byte(out["diagnosis"])) {
			t.Fatalf("diagnosis is not valid JSON: %s", out["diagnosis"])
		}
		var back diagnose.Diagnosis
		if err := json.Unmarshal([]byte(out["diagnosis"]), &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&back, o.Diagnosis) {
			t.Errorf("diagnosis does not round-trip:\n got %+v\nwant %+v", back, *o.Diagnosis)
		}
		if strings.Contains(out["diagnosis"], "\n") {
			t.Error("diagnosis output spans several lines")
		}
	})

	t.Run("history: revisions is JSON", func(t *testing.T) {
		o := outcome.Outcome{Mode: config.ModeHistory, Status: outcome.Succeeded, Release: "web", Revisions: []outcome.Revision{
			{Revision: 1, Updated: seenAt, Status: "superseded", Chart: "web-0.1.0", AppVersion: "1.0", Description: "Install complete"},
			{Revision: 2, Updated: seenAt.Add(time.Hour), Status: "deployed", Chart: "web-0.1.1", AppVersion: "1.1", Description: "Upgrade complete"},
		}}
		out := Outputs(o)
		var back []outcome.Revision
		if err := json.Unmarshal([]byte(out["revisions"]), &back); err != nil {
			t.Fatalf("revisions %q: %v", out["revisions"], err)
		}
		if !reflect.DeepEqual(back, o.Revisions) {
			t.Errorf("revisions do not round-trip:\n got %+v\nwant %+v", back, o.Revisions)
		}
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// A run that failed before it read the release's history does not claim a first install.
func TestMarkdownRevisionBeforeOnlyWhenKnown(t *testing.T) {
	o := succeededOutcome()
	o.Status, o.HistoryRead, o.PreviousRevision, o.Revision = outcome.Failed, false, 0, 0
	if got := Markdown(o); strings.Contains(got, "Revision before") {
		t.Errorf("a pre-flight failure reports a revision before:\n%s", got)
	}
}

// History is a listing, not a deploy: no "deployed" heading, no status row; images per revision.
func TestMarkdownHistory(t *testing.T) {
	o := outcome.Outcome{Mode: config.ModeHistory, Status: outcome.Succeeded, Release: "web", Namespace: "prod", Revision: 2, HistoryRead: true,
		Message: "web has 2 revisions; revision 2 is deployed",
		Revisions: []outcome.Revision{{Revision: 1, Status: "superseded", Images: []string{"ghcr.io/acme/web:1.0.0"}, Description: "Install complete"},
			{Revision: 2, Status: "deployed", Images: []string{"ghcr.io/acme/web:1.1.0", "ghcr.io/acme/sidecar:2"}, Description: "Shepherd: upgrade to 1.1.0"}}}
	got := Markdown(o)
	for _, bad := range []string{"deployed |\n\n", "✅", "| Status |"} {
		if strings.Contains(got, bad) {
			t.Errorf("history summary has %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{"📜 history", "| Current revision | 2 |", "| web:1.1.0, sidecar:2 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("history summary lacks %q:\n%s", want, got)
		}
	}
}
