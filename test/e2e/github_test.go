//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// githubAPI is a local stand-in for the GitHub REST API and a Slack webhook: it records every
// request and answers as GitHub does, or with status when it is set.
type githubAPI struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []apiRequest
	status int
}

type apiRequest struct {
	Method, Path, Auth string
	Body               map[string]any
}

func newGitHubAPI(t *testing.T) *githubAPI {
	g := &githubAPI{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		g.mu.Lock()
		g.reqs = append(g.reqs, apiRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), body})
		status := g.status
		g.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		if strings.HasSuffix(r.URL.Path, "/deployments") {
			_, _ = w.Write([]byte(`{"id":4711}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":1}`))
	}))
	t.Cleanup(g.Close)
	return g
}

// requests returns the recorded requests to paths with prefix, and forgets every request.
func (g *githubAPI) take(prefix string) []apiRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []apiRequest
	for _, r := range g.reqs {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	g.reqs = nil
	return out
}

const (
	e2eToken = "ghs_e2eTOKENsecret0123456789"
	hookPath = "/slack/services/T0/B0/hookSECRETpart"
)

// notifyInputs adds the reporting inputs to a deploy's.
func notifyInputs(in map[string]string, g *githubAPI) map[string]string {
	in["environment"], in["environment_url"], in["github_token"] = "staging", "https://staging.example.com", e2eToken
	in["slack_webhook_url"] = g.URL + hookPath
	return in
}

func notifyEnv(g *githubAPI) []string {
	return []string{"GITHUB_API_URL=" + g.URL, "GITHUB_SHA=deadbeef"}
}

// states is the deployment statuses recorded, in order.
func states(reqs []apiRequest) string {
	var out []string
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, "/statuses") {
			out = append(out, r.Body["state"].(string))
		}
	}
	return strings.Join(out, " ")
}

// noSecretsPrinted requires the token and the webhook's secret part to appear nowhere but in
// the ::add-mask:: commands.
func noSecretsPrinted(t *testing.T, r actionRun) {
	t.Helper()
	if !strings.Contains(r.Stdout, "::add-mask::"+e2eToken) {
		t.Error("the runner was not told to mask github_token")
	}
	all := printedText(r)
	for _, s := range []string{e2eToken, "hookSECRETpart"} {
		if strings.Contains(all, s) {
			t.Errorf("%s was printed", s)
		}
	}
}

// printedText is everything a run showed but its ::add-mask:: commands: the log, the summary
// and the outputs.
func printedText(r actionRun) string {
	var printed []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			printed = append(printed, l)
		}
	}
	all := strings.Join(printed, "\n") + r.Summary
	for _, v := range r.Outputs {
		all += v
	}
	return all
}

// A deploy, a bad release rolled back, and bad input: each is a GitHub deployment of its
// environment with statuses in_progress then success, failure (with the reason) or error, and
// one Slack message; the token and the webhook never show.
func TestGitHubDeploymentsAndSlack(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	g := newGitHubAPI(t)

	r := runAction(t, notifyInputs(deployInputs(c, ns, "1.0.0"), g), append(notifyEnv(g), "RUNNER_DEBUG=1")...) // debug output too
	want(t, "exit", r.Exit, 0)
	api, slack := g.take("/repos/"), []apiRequest{}
	if len(api) != 3 || api[0].Path != "/repos/acme/web/deployments" || api[0].Auth != "Bearer "+e2eToken {
		t.Fatalf("GitHub requests: %+v", api)
	}
	for k, v := range map[string]any{"ref": "deadbeef", "environment": "staging", "auto_merge": false, "task": "deploy"} {
		if api[0].Body[k] != v {
			t.Errorf("deployment %s = %v, want %v", k, api[0].Body[k], v)
		}
	}
	want(t, "statuses", states(api), "in_progress success")
	want(t, "log_url", api[2].Body["log_url"], "https://github.com/acme/web/actions/runs/42")
	want(t, "environment_url", api[2].Body["environment_url"], "https://staging.example.com")
	if !strings.Contains(r.Stdout, "::notice title=Shepherd%3A deployed::web is on revision 1") {
		t.Errorf("no notice names the revision:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Summary, "[the workflow run](https://github.com/acme/web/actions/runs/42)") || !strings.Contains(r.Summary, "[staging](https://staging.example.com)") {
		t.Errorf("the summary has no links:\n%s", r.Summary)
	}
	noSecretsPrinted(t, r)

	r = runAction(t, notifyInputs(deployInputs(c, ns, "1.1.0-crashloop"), g), notifyEnv(g)...)
	want(t, "status", r.Outputs["status"], "rolled-back")
	reqs := g.take("/")
	for _, q := range reqs {
		if strings.HasPrefix(q.Path, "/slack/") {
			slack = append(slack, q)
		}
	}
	want(t, "statuses", states(reqs), "in_progress failure")
	if d, _ := reqs[len(reqs)-2].Body["description"].(string); !strings.Contains(d, "crash-loop") {
		t.Errorf("the failure status does not give the reason: %q", d)
	}
	if len(slack) != 1 || slack[0].Path != hookPath {
		t.Fatalf("Slack requests: %+v", slack)
	}
	text, _ := slack[0].Body["text"].(string)
	blocks, _ := json.Marshal(slack[0].Body["blocks"])
	if !strings.Contains(text, "rolled back") || !strings.Contains(string(blocks), "Diagnosis") || !strings.Contains(string(blocks), "crash-loop") {
		t.Errorf("the Slack message does not say rolled back with the diagnosis: %s %s", text, blocks)
	}
	noSecretsPrinted(t, r)

	r = runAction(t, notifyInputs(deployInputs(c, ns, "1.0.0", "timeout", "-5s"), g), notifyEnv(g)...)
	want(t, "status", r.Outputs["status"], "failed")
	want(t, "statuses", states(g.take("/repos/")), "in_progress error")
	noSecretsPrinted(t, r)
}

// GitHub's API down (every request a 503): the deploy still succeeds, with a warning that
// names the status.
func TestGitHubAPIDownNeverFailsTheDeploy(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	g := newGitHubAPI(t)
	g.status = http.StatusServiceUnavailable
	r := runAction(t, notifyInputs(deployInputs(c, ns, "1.0.0"), g), notifyEnv(g)...)
	want(t, "exit", r.Exit, 0)
	want(t, "status", r.Outputs["status"], "succeeded")
	for _, w := range []string{"::warning::GitHub deployment to staging not recorded: HTTP 503", "::warning::Slack not notified: HTTP 503"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("no warning %q:\n%s", w, r.Stdout)
		}
	}
	if n := len(g.take("/repos/")); n != 3 {
		t.Errorf("%d attempts to create the deployment, want 3 (retried with backoff)", n)
	}
	noSecretsPrinted(t, r)
}

// A malformed `set` line whose key names a secret is refused before anything is written, and
// its value reaches no one: not the log (but for ::add-mask::), not the summary or outputs,
// not the GitHub deployment's status, not Slack — even the part after the comma that Helm's
// syntax splits off.
func TestMalformedSecretSetLineIsNeverQuoted(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	g := newGitHubAPI(t)
	in := notifyInputs(deployInputs(c, ns, "1.0.0"), g)
	in["set"] = "replicaCount=1\ndb.password=hunter2x,s3cretTAIL"
	r := runAction(t, in, notifyEnv(g)...)
	want(t, "status", r.Outputs["status"], "failed")
	if !strings.Contains(r.Stdout, "set: line 2 (key db.password)") {
		t.Errorf("the error does not name the line and its key:\n%s", r.Stdout)
	}
	for _, m := range []string{"::add-mask::hunter2x,s3cretTAIL", "::add-mask::s3cretTAIL"} {
		if !strings.Contains(r.Stdout, m) {
			t.Errorf("the runner was not told %q before validation", m)
		}
	}
	all := printedText(r)
	sent, _ := json.Marshal(g.take("/"))
	for _, s := range []string{"hunter2x", "s3cretTAIL"} {
		if strings.Contains(all, s) {
			t.Errorf("%s was printed", s)
		}
		if strings.Contains(string(sent), s) {
			t.Errorf("%s was sent to GitHub or Slack: %s", s, sent)
		}
	}
	if !strings.Contains(string(sent), "set: line 2") {
		t.Errorf("the error status did not reach GitHub/Slack at all (nothing to check): %s", sent)
	}
}
