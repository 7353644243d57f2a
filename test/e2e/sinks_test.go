//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A chart whose archive answers 404 behind a repository URL that carries a password (in its
// user info, or as registry_password with a token in its query): every input holds a
// recognisable secret — the URL's password and token, registry_password, github_token, the
// Slack webhook, the kubeconfig's credentials, a `set` value of a secret-looking key — and
// none of them reaches any sink: the step's log (but for ::add-mask::), GITHUB_OUTPUT, the
// job summary, the GitHub deployment's statuses (the local GitHub API stand-in) or Slack (the
// same stand-in's webhook). The failure still names the archive that answered 404.
func TestNoCredentialReachesAnySink(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	g := newGitHubAPI(t)
	cr := testcluster.StartChartRepo(t, c.CA())
	cr.Publish(t, exampleChart(), "2.0.0")
	cr.IndexAt(t, "") // relative archive URLs, as `helm repo index` without --url writes them
	cr.Delete(t, "example-app", "2.0.0")
	host := strings.TrimPrefix(cr.URL, "https://")
	const setSecret, queryToken = "setVALUE-Kq72", "qTOKEN-Zr55"
	for name, src := range map[string][]string{
		"the URL's user info": {"chart_repository", "https://" + cr.User + ":" + cr.Password + "@" + host},
		"registry_password and a query token": {"chart_repository", cr.URL + "?token=" + queryToken,
			"registry_username", cr.User, "registry_password", cr.Password},
	} {
		in := notifyInputs(deployInputs(c, ns, "1.0.0", append([]string{"chart", "example-app", "chart_version", "2.0.0",
			"registry_ca", string(c.CA().PEM()), "set", "replicaCount=1\ndb.password=" + setSecret}, src...)...), g)
		r := runAction(t, in, append(notifyEnv(g), "RUNNER_DEBUG=1")...)
		want(t, name+": status", r.Outputs["status"], "failed")
		if !strings.Contains(r.Stdout, "example-app-2.0.0.tgz") || !strings.Contains(r.Stdout, "404") {
			t.Errorf("%s: the failure does not name the archive that answered 404:\n%s", name, r.Stdout)
		}
		reqs := g.take("/")
		if states(reqs) != "in_progress error" && states(reqs) != "in_progress failure" {
			t.Errorf("%s: GitHub statuses %q", name, states(reqs))
		}
		sinks := map[string]string{"the log": actionrun.Unmasked(r.Stdout), "the summary": r.Summary}
		outs, _ := json.Marshal(r.Outputs)
		sinks["GITHUB_OUTPUT"] = string(outs)
		for _, q := range reqs { // what GitHub and Slack were sent (the token goes in a header, to GitHub)
			b, _ := json.Marshal(q.Body)
			sinks[q.Method+" "+q.Path] += string(b)
		}
		if len(reqs) < 3 {
			t.Errorf("%s: %d requests to GitHub and Slack, want a deployment, its statuses and a Slack message", name, len(reqs))
		}
		secrets := append([]string{cr.Password, queryToken, e2eToken, "hookSECRETpart", setSecret}, config.KubeconfigSecrets(in["kubeconfig"])...)
		for sink, text := range sinks {
			for _, s := range secrets {
				if len(s) >= 8 && strings.Contains(text, s) {
					t.Errorf("%s: %s shows a secret (%.4s…):\n%s", name, sink, s, text)
				}
			}
		}
	}
}
