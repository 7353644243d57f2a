package diagnose

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleDiagnosis() Diagnosis {
	return Diagnosis{
		Category: CrashLoop,
		Summary:  "Pod web-abc12: CrashLoopBackOff (back-off 10s restarting failed container=app)",
		Hint:     hintCrash,
		Signals: []Signal{
			{Category: CrashLoop, Object: "Pod/web-abc12", Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container=app"},
			{Category: Deadline, Object: "Deployment/web", Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-5d4f" has timed out progressing.`},
		},
		Pods: []PodEvidence{
			{Name: "web-abc12", Phase: "Running", Containers: []ContainerEvidence{
				{Name: "app", Image: "web:crashloop", State: "waiting", Reason: "CrashLoopBackOff", Message: "a | b\nc <none>",
					ExitCode: int32p(1), Restarts: 4, LastTerminated: "exit 1 (Error)",
					PreviousLogs: []string{"starting", "panic: missing DATABASE_URL", "```not a fence```"}},
				{Name: "proxy", Image: "envoy:1", State: "running", Ready: false},
			}},
			{Name: "web-pending", Phase: "Pending"},
		},
		Events: []EventEvidence{
			{Object: "Pod/web-abc12", Type: "Warning", Reason: "BackOff", Message: "Back-off restarting failed container",
				Count: 7, LastSeen: time.Date(2026, 3, 1, 11, 59, 50, 0, time.UTC)},
			{Object: "ReplicaSet/web-5d4f", Type: "Warning", Reason: "FailedCreate", Message: "x | y"},
		},
	}
}

func TestMarkdown(t *testing.T) {
	md := sampleDiagnosis().Markdown()
	for _, want := range []string{
		"**Rollout failed (`crash-loop`):** Pod web-abc12: CrashLoopBackOff (back-off 10s restarting failed container=app)\n",
		"> **Hint:** The container exits right after starting: read its last log lines below",
		"- `deadline` Deployment web: ProgressDeadlineExceeded (ReplicaSet \"web-5d4f\" has timed out progressing.)",
		"| Pod | Container | State | Reason | Restarts | Exit code | Last terminated | Message |",
		"| web-abc12 (Running, not ready) | app | waiting | CrashLoopBackOff | 4 | 1 | exit 1 (Error) | a \\| b c &lt;none&gt; |",
		"| web-abc12 (Running, not ready) | proxy | running, not ready | - | 0 | - | - | - |",
		"| web-pending (Pending, not ready) | - | - | - | - | - | - | - |",
		"| Last seen | Object | Type | Reason | Count | Message |",
		"| 2026-03-01T11:59:50Z | Pod/web-abc12 | Warning | BackOff | 7 | Back-off restarting failed container |",
		"| - | ReplicaSet/web-5d4f | Warning | FailedCreate | 0 | x \\| y |",
		"#### Last log lines of web-abc12/app (previous container)\n\n````text\nstarting\npanic: missing DATABASE_URL\n```not a fence```\n````\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown() lacks %q; got:\n%s", want, md)
		}
	}
	if strings.HasPrefix(md, "#") || strings.Contains(md, "\n# ") || strings.Contains(md, "\n## ") || strings.Contains(md, "\n### ") {
		t.Errorf("Markdown() has a heading above level 4; it must nest under the caller's ### Diagnosis:\n%s", md)
	}
	if !strings.HasSuffix(md, "````\n") {
		t.Errorf("Markdown() does not end with the last block and one newline: %q", md[len(md)-10:])
	}
	if strings.Contains(md, "proxy (previous container)") {
		t.Errorf("Markdown() has a log block for a container without logs:\n%s", md)
	}
	// Each table row stays on one line: every line of the pods table has 9 unescaped pipes.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| web-") {
			if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 9 {
				t.Errorf("row %q has %d cell separators, want 9", line, n)
			}
		}
	}
}

func TestMarkdownMinimal(t *testing.T) {
	tests := []struct {
		name    string
		d       Diagnosis
		want    []string
		wantNot []string
	}{
		{name: "empty", d: Diagnosis{}, want: []string{"**Rollout failed:**\n"},
			wantNot: []string{"Hint", "Failing pods", "Events", "Other signals", "Last log lines"}},
		{name: "health check only",
			d: Diagnosis{Category: HealthCheck, Summary: "Deployment web: health check failed (GET /healthz: 503)", Hint: hintHealthCheck,
				Signals: []Signal{{Category: HealthCheck}}},
			want:    []string{"**Rollout failed (`health-check`):** Deployment web: health check failed (GET /healthz: 503)", hintHealthCheck},
			wantNot: []string{"Failing pods", "Events", "Other signals"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := tt.d.Markdown()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("Markdown() lacks %q; got:\n%s", w, md)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(md, w) {
					t.Errorf("Markdown() has %q; got:\n%s", w, md)
				}
			}
		})
	}
}

func TestDiagnosisJSON(t *testing.T) {
	b, err := json.Marshal(sampleDiagnosis())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"category":"crash-loop"`, `"summary":`, `"hint":`,
		`"signals":[{"category":"crash-loop","object":"Pod/web-abc12","reason":"CrashLoopBackOff","message":`,
		`"pods":[{"name":"web-abc12","phase":"Running","ready":false,"containers":[`,
		`"exit_code":1`, `"restarts":4`, `"last_terminated":"exit 1 (Error)"`, `"previous_logs":["starting"`,
		`"events":[{"object":"Pod/web-abc12","type":"Warning","reason":"BackOff"`, `"count":7`, `"last_seen":"2026-03-01T11:59:50Z"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s; got %s", want, b)
		}
	}
}

func TestSummarize(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name string
		s    Signal
		want string
	}{
		{"pod with message", Signal{Object: "Pod/web-abc12", Reason: "ImagePullBackOff", Message: `Back-off pulling image "x:bad-image"`},
			`Pod web-abc12: ImagePullBackOff (Back-off pulling image "x:bad-image")`},
		{"no message", Signal{Object: "Deployment/web", Reason: "ProgressDeadlineExceeded"}, "Deployment web: ProgressDeadlineExceeded"},
		{"no reason uses the category", Signal{Category: HealthCheck, Object: "Deployment/web", Message: "503"}, "Deployment web: health-check (503)"},
		{"URL object is not a kind", Signal{Category: HealthCheck, Object: "http://127.0.0.1:8080/api/health", Reason: "Unhealthy", Message: "503"},
			"http://127.0.0.1:8080/api/health: Unhealthy (503)"},
		{"no object", Signal{Category: HealthCheck, Message: "GET /healthz:\n  503"}, "health-check (GET /healthz: 503)"},
		{"long message is cut on a rune boundary", Signal{Object: "Pod/pp", Reason: "R", Message: long},
			("Pod pp: R (" + long)[:399] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.s); got != tt.want {
				t.Fatalf("Summarize() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitLogs(t *testing.T) {
	long := strings.Repeat("x", 1500)
	tests := []struct {
		name string
		body string
		n    int
		want []string
	}{
		{"empty", "", 20, nil},
		{"only newlines", "\n\n", 20, nil},
		{"fewer than n", "a\nb\n", 20, []string{"a", "b"}},
		{"last n", "a\nb\nc\nd", 2, []string{"c", "d"}},
		{"crlf", "a\r\nb\r\n", 20, []string{"a", "b"}},
		{"blank line inside kept", "a\n\nb", 20, []string{"a", "", "b"}},
		{"long line cut", long, 20, []string{long[:1000] + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitLogs(tt.body, tt.n)
			if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") || len(got) != len(tt.want) {
				t.Fatalf("splitLogs() = %q, want %q", got, tt.want)
			}
		})
	}
}
