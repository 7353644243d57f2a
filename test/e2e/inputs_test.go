//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// Bad input gets an error naming the input and what is allowed, exit ≠ 0, and nothing written.
func TestActionBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	cases := []struct {
		name, input, value string
		says               string
	}{
		{"unknown strategy", "strategy", "yolo", `strategy: "yolo" is not supported (allowed: rolling, blue-green, canary)`},
		{"stages not increasing", "stages", "10,5,100", "stages: "},
		{"stages not ending at 100", "stages", "10,50", "stages end at 100"},
		{"threshold not a number", "error_threshold", "five", `error_threshold: "five" is not a number`},
		{"unknown template placeholder", "error_rate_query", `rate(x{pod=~"{{ podz }}"}[1m])`, "error_rate_query: unknown placeholder {{ podz }}"},
		{"latency not a latency", "latency_threshold", "fast", `latency_threshold: "fast" is not a latency`},
		{"unknown mode", "mode", "explode", `mode: "explode" is not supported (allowed: deploy, rollback, history, promote, abort)`},
		{"malformed set", "set", "replicaCount", `set: line 1: missing key=value`},
		{"negative timeout", "timeout", "-5s", "timeout: must be positive"},
		{"unparsable timeout", "timeout", "soon", `timeout: "soon" is not a duration`},
		{"missing chart", "chart", "./no/such/chart", `chart: "./no/such/chart" does not exist`},
		{"no chart", "chart", "", "chart: required"},
		{"unparsable kubeconfig", "kubeconfig", "clusters: [not yaml", "kubeconfig: not a valid kubeconfig"},
		{"invalid release name", "release", "Web_App", `release: "Web_App" is not a valid release name`},
		{"tag with whitespace", "image_tag", "v1 && rm -rf /", "image_tag: "},
		{"tag with shell characters", "image_tag", "v1;$(reboot)", "image_tag: "},
		{"tag with backticks", "image_tag", "`id`", "image_tag: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := c.NewNamespace(t)
			in := deployInputs(c, ns, "1.0.0")
			in[tc.input] = tc.value
			r := runAction(t, in)
			if r.Exit == 0 {
				t.Fatalf("exit 0 for bad input:\n%s", r.Stdout)
			}
			want(t, "status", r.Outputs["status"], "failed")
			if !strings.Contains(r.Stdout, "::error") || !strings.Contains(r.Stdout, tc.says) {
				t.Errorf("the error does not say %q:\n%s", tc.says, r.Stdout)
			}
			noWrites(t, c, ns)
			if tc.input != "kubeconfig" {
				noCredentials(t, r, credentialsOf(t, c.Kubeconfig)...)
			}
		})
	}
}

// credentialsOf returns the secret parts of a kubeconfig as they appear in it and decoded.
func credentialsOf(t *testing.T, kubeconfig []byte) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(string(kubeconfig), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "client-key-data" || k == "token") {
			v = strings.TrimSpace(v)
			out = append(out, v)
			if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
				for _, l := range strings.Split(string(dec), "\n") {
					if len(l) > 20 && !strings.HasPrefix(l, "-----") {
						out = append(out, l)
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no credentials found in the kubeconfig")
	}
	return out
}

// noCredentials fails if a credential appears anywhere a user can read it: the log (other than
// the ::add-mask:: commands that tell the runner to hide it), the outputs or the summary.
func noCredentials(t *testing.T, r actionRun, secrets ...string) {
	t.Helper()
	var visible []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			visible = append(visible, l)
		}
	}
	text := strings.Join(visible, "\n") + r.Summary + fmt.Sprint(r.Outputs)
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("a credential (%.8s…) is visible in the output", s)
		}
		if !strings.Contains(r.Stdout, "::add-mask::"+s) && strings.Count(s, "") > 40 {
			t.Errorf("credential %.8s… was not masked", s)
		}
	}
}

// A ServiceAccount token kubeconfig, a debug run, a good and a bad release: the token is
// masked and never printed.
func TestActionNeverPrintsToken(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	kc := tokenKubeconfig(t, c, ns)
	secrets := credentialsOf(t, kc)
	for _, tag := range []string{"1.0.0", "1.1.0-bad-image"} {
		in := deployInputs(c, ns, tag)
		in["kubeconfig"] = string(kc)
		r := runAction(t, in, "RUNNER_DEBUG=1")
		if tag == "1.0.0" {
			want(t, "status", r.Outputs["status"], "succeeded")
		} else {
			want(t, "status", r.Outputs["status"], "rolled-back")
		}
		noCredentials(t, r, secrets...)
	}
}

// tokenKubeconfig makes a ServiceAccount with the admin role in ns and returns a kubeconfig
// holding a real token for it.
func tokenKubeconfig(t *testing.T, c *testcluster.Cluster, ns string) []byte {
	return tokenKubeconfigFor(t, c, ns, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"})
}

// tokenKubeconfigFor makes a ServiceAccount bound to role in ns and returns a kubeconfig
// holding a real token for it.
func tokenKubeconfigFor(t *testing.T, c *testcluster.Cluster, ns string, role rbacv1.RoleRef) []byte {
	return c.TokenKubeconfig(t, ns, role)
}
