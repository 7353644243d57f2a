package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// recorder is a local GitHub API: it records every request and answers as fail says.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	fail func(n int, r *http.Request) int // the status for the nth request (0: the normal answer)
}

type recorded struct {
	Method, Path, Auth string
	Body               map[string]any
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), body})
	rc.mu.Unlock()
	if rc.fail != nil {
		if code := rc.fail(n, r); code != 0 {
			if code == http.StatusForbidden {
				w.Header().Set("X-RateLimit-Remaining", "0")
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"message":"try later"}`))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	if strings.HasSuffix(r.URL.Path, "/deployments") {
		_, _ = w.Write([]byte(`{"id":42}`))
		return
	}
	_, _ = w.Write([]byte(`{"id":7}`))
}

// fast shortens a retry policy's backoff to nothing.
func fast(r *Retrying) { r.Backoff, r.Sleep = time.Millisecond, func(time.Duration) {} }

func TestDeploymentRequests(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var warnings []string
	n := config.Notify{GitHubToken: "ghs_secret", Environment: "production", EnvironmentURL: "https://web.example.com"}
	d := NewDeployment(n, Run{APIURL: srv.URL + "/api/v3", Repository: "acme/web", SHA: "abc123", URL: "https://github.com/acme/web/actions/runs/1"},
		func(s string) { warnings = append(warnings, s) })
	fast(d.Retries())
	cfg := config.Default()
	cfg.Release, cfg.ImageTag = "web", "2.0.0"
	d.Start(context.Background(), cfg, &charts.Resolved{Kind: charts.OCI, Ref: "oci://ghcr.io/acme/charts/web:1.4.2", Version: "1.4.2",
		Digest: "sha256:9f2c"})
	d.Finish(context.Background(), outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.RolledBack, Release: "web", FailureReason: diagnose.CrashLoop, Message: "revision 3 failed"})
	if len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	if len(rc.reqs) != 3 {
		t.Fatalf("%d requests, want create + in_progress + failure: %+v", len(rc.reqs), rc.reqs)
	}
	create := rc.reqs[0]
	if create.Method != "POST" || create.Path != "/api/v3/repos/acme/web/deployments" || create.Auth != "Bearer ghs_secret" {
		t.Errorf("create: %+v", create)
	}
	for k, want := range map[string]any{"ref": "abc123", "task": "deploy", "auto_merge": false, "environment": "production",
		"production_environment": true, "transient_environment": false} {
		if create.Body[k] != want {
			t.Errorf("deployment %s = %v, want %v", k, create.Body[k], want)
		}
	}
	p, _ := create.Body["payload"].(map[string]any)
	for k, want := range map[string]string{"release": "web", "image_tag": "2.0.0", "chart": "oci://ghcr.io/acme/charts/web:1.4.2",
		"chart_version": "1.4.2", "chart_digest": "sha256:9f2c"} {
		if p[k] != want {
			t.Errorf("payload %s = %v, want %q", k, p[k], want)
		}
	}
	if rcx, ok := create.Body["required_contexts"].([]any); !ok || len(rcx) != 0 {
		t.Errorf("required_contexts = %v, want [] (no status checks)", create.Body["required_contexts"])
	}
	for i, want := range []string{"in_progress", "failure"} {
		st := rc.reqs[i+1]
		if st.Path != "/api/v3/repos/acme/web/deployments/42/statuses" || st.Body["state"] != want ||
			st.Body["log_url"] != "https://github.com/acme/web/actions/runs/1" || st.Body["environment_url"] != "https://web.example.com" {
			t.Errorf("status %d: %+v", i, st)
		}
	}
	if desc, _ := rc.reqs[2].Body["description"].(string); !strings.Contains(desc, "crash-loop") {
		t.Errorf("the failure's description does not give the reason: %q", desc)
	}
}

func TestDeploymentStates(t *testing.T) {
	for _, tc := range []struct {
		o    outcome.Outcome
		want string
	}{
		{outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.Succeeded, Revision: 3}, "success"},
		{outcome.Outcome{Mode: config.ModeRollback, Status: outcome.RolledBack, RollbackRevision: 2, Reason: "bad"}, "success"},
		{outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.RolledBack, FailureReason: diagnose.Analysis}, "failure"},
		{outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.Failed, Revision: 3, FailureReason: diagnose.CrashLoop}, "failure"},
		{outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.Failed, Message: "invalid input: release: required"}, "error"},
		{outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.AwaitingPromotion}, "in_progress"},
		{outcome.Outcome{Mode: config.ModeAbort, Status: outcome.Aborted}, "inactive"},
		{outcome.Outcome{Mode: config.ModePromote, Status: outcome.Succeeded, Revision: 4}, "success"},
	} {
		if got, desc := DeploymentState(tc.o); got != tc.want || desc == "" {
			t.Errorf("%s/%s: %s %q, want %s", tc.o.Mode, tc.o.Status, got, desc, tc.want)
		}
	}
}

// A 5xx or a spent rate limit is retried; past the attempts it is a warning with the status.
func TestRetriesThenWarns(t *testing.T) {
	rc := &recorder{fail: func(n int, _ *http.Request) int {
		if n < 2 {
			return []int{http.StatusBadGateway, http.StatusForbidden}[n] // a 502, then a spent rate limit
		}
		return 0
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var warnings []string
	d := NewDeployment(config.Notify{GitHubToken: "t", Environment: "staging"}, Run{APIURL: srv.URL, Repository: "acme/web", SHA: "abc"},
		func(s string) { warnings = append(warnings, s) })
	fast(d.Retries())
	d.Start(context.Background(), config.Default(), nil)
	if len(warnings) != 0 || d.id != 42 {
		t.Fatalf("retried create: id %d, warnings %v", d.id, warnings)
	}
	rc.fail = func(int, *http.Request) int { return http.StatusServiceUnavailable }
	d.Finish(context.Background(), outcome.Outcome{Status: outcome.Succeeded})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "HTTP 503") {
		t.Errorf("warnings %v, want one naming HTTP 503", warnings)
	}
}

func TestSlack(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	hook := srv.URL + "/services/T000/B000/XXXXSECRET"
	var warnings []string
	n := config.Notify{SlackWebhookURL: hook, Environment: "production", EnvironmentURL: "https://web.example.com"}
	s := NewSlack(n, Run{URL: "https://github.com/acme/web/actions/runs/1"}, func(w string) { warnings = append(warnings, w) })
	fast(s.Retries())
	diag := &diagnose.Diagnosis{Category: diagnose.Analysis, Summary: "error rate 31% above 5%", Hint: "compare the tracks"}
	s.Finish(context.Background(), outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.RolledBack, Release: "web", Namespace: "prod",
		Revision: 3, FailureReason: diagnose.Analysis, Message: "the canary was aborted", Diagnosis: diag})
	s.Finish(context.Background(), outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.AwaitingPromotion, Release: "web", Namespace: "prod", Message: "waits"})
	if len(rc.reqs) != 2 || len(warnings) != 0 {
		t.Fatalf("requests %d, warnings %v", len(rc.reqs), warnings)
	}
	raw, _ := json.Marshal(rc.reqs[0].Body)
	for _, want := range []string{`"text":"Shepherd rolled back: web in prod (production) — the canary was aborted"`, `"type":"header"`, "error rate 31% above 5%", "compare the tracks", "analysis", `|the workflow run\u003e`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the rollback message lacks %q: %s", want, raw)
		}
	}
	raw, _ = json.Marshal(rc.reqs[1].Body)
	if !strings.Contains(string(raw), "mode: promote") {
		t.Errorf("the awaiting message does not say how to promote: %s", raw)
	}
	// A webhook that fails: a warning naming the status, never the URL (it is a credential).
	rc.fail = func(int, *http.Request) int { return http.StatusInternalServerError }
	s.Finish(context.Background(), outcome.Outcome{Status: outcome.Succeeded, Release: "web"})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "HTTP 500") || strings.Contains(warnings[0], "SECRET") {
		t.Errorf("warnings %v", warnings)
	}
	srv.Close()
	s.Finish(context.Background(), outcome.Outcome{Status: outcome.Succeeded, Release: "web"})
	if len(warnings) != 2 || strings.Contains(warnings[1], "SECRET") || !strings.Contains(warnings[1], "refused") {
		t.Errorf("a network error quoted the webhook URL: %v", warnings)
	}
}

func TestProblemNeverQuotesTheURL(t *testing.T) {
	_, err := http.Get("http://127.0.0.1:1/services/SECRET")
	if p := Problem(0, err); strings.Contains(p, "SECRET") || p == "" {
		t.Errorf("%q", p)
	}
	if p := Problem(502, nil); p != "HTTP 502 Bad Gateway" {
		t.Errorf("%q", p)
	}
	if p := Problem(0, errors.New("x")); p != "x" {
		t.Errorf("%q", p)
	}
}

// A promote run ends the wait of the deploy that stopped for it: that deployment, still
// in_progress, becomes inactive; another release's, or a finished one, is left alone.
func TestPromoteEndsTheWait(t *testing.T) {
	var mu sync.Mutex
	var marked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/repos/acme/web/deployments":
			if r.URL.Query().Get("environment") != "production" {
				t.Errorf("listed deployments of %q", r.URL.Query().Get("environment"))
			}
			_, _ = w.Write([]byte(`[{"id":42,"payload":{"release":"web"}},{"id":11,"payload":{"release":"web"}},{"id":12,"payload":{"release":"api"}},{"id":13,"payload":{"release":"web"}}]`))
		case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/statuses"):
			state := map[string]string{"/repos/acme/web/deployments/11/statuses": "in_progress", "/repos/acme/web/deployments/12/statuses": "in_progress",
				"/repos/acme/web/deployments/13/statuses": "success"}[r.URL.Path]
			_, _ = w.Write([]byte(`[{"state":"` + state + `"}]`))
		case r.Method == "POST" && r.URL.Path == "/repos/acme/web/deployments":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":42}`))
		case r.Method == "POST":
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			marked = append(marked, r.URL.Path+" "+body["state"].(string))
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":1}`))
		}
	}))
	defer srv.Close()
	d := NewDeployment(config.Notify{GitHubToken: "t", Environment: "production"}, Run{APIURL: srv.URL, Repository: "acme/web", SHA: "abc"},
		func(s string) { t.Errorf("warning: %s", s) })
	cfg := config.Default()
	cfg.Mode, cfg.Release = config.ModePromote, "web"
	d.Start(context.Background(), cfg, nil)
	d.Finish(context.Background(), outcome.Outcome{Mode: config.ModePromote, Status: outcome.Succeeded, Release: "web", Revision: 4})
	want := "/repos/acme/web/deployments/42/statuses in_progress|/repos/acme/web/deployments/42/statuses success|/repos/acme/web/deployments/11/statuses inactive"
	if got := strings.Join(marked, "|"); got != want {
		t.Errorf("statuses written:\n got %s\nwant %s", got, want)
	}
}

// The Slack message's facts come from outcome.Fields: each that has a value is there (Slack
// takes ten; the image tag is one of them).
func TestSlackFactsFollowTheFields(t *testing.T) {
	o := outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.Succeeded, Release: "web", Namespace: "prod", ImageTag: "2.0.0",
		Revision: 8, PreviousRevision: 7, ActiveColor: "green", ChartVersion: "1.4.2", ChartDigest: "sha256:9f2c"}
	b, err := json.Marshal(SlackMessage(o, Run{}, config.Notify{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range outcome.Facts(o) {
		if !strings.Contains(string(b), f.Label) || !strings.Contains(string(b), f.Value) {
			t.Errorf("the Slack message lacks %s (%s)", f.Label, f.Value)
		}
	}
}
