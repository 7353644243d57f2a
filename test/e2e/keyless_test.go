//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// Keyless deploys: the local kube-apiserver trusts the cluster's OIDC issuer through its
// structured authentication configuration, as a cluster trusts GitHub's issuer; the runner's
// ID-token requests are answered by a local stand-in of GitHub's token service (only a runner
// reaches the real one). examples/rbac.yaml's Role is bound to one environment's subject.

const keylessRepo = "acme/web"

// bindEnvironment binds examples/rbac.yaml's Role in ns to the user a job of environment env
// becomes.
func bindEnvironment(t *testing.T, c *testcluster.Cluster, ns, env string) {
	t.Helper()
	bindUser(t, c, ns, c.OIDC.UsernamePrefix+testcluster.Grant{Repository: keylessRepo, Environment: env}.Subject())
}

func keylessInputs(c *testcluster.Cluster, ns, tag string, extra ...string) map[string]string {
	in := deployInputs(c, ns, tag, append([]string{"kubeconfig", "", "cluster_url", c.APIServerURL, "cluster_ca", string(c.CA().PEM())}, extra...)...)
	delete(in, "kubeconfig")
	return in
}

// A job of the bound environment deploys with nothing but its OIDC token — a canary whose
// stages outlive the token, which is renewed — and a job of another environment is refused,
// naming its subject, with nothing written.
func TestKeylessDeploy(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bindEnvironment(t, c, ns, "production")

	prod := c.OIDC.Runner(testcluster.Grant{Repository: keylessRepo, Environment: "production", TTL: 6 * time.Second})
	r := runAction(t, keylessInputs(c, ns, "1.0.0"), prod...)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("keyless install: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	wantUser := `user "github:repo:acme/web:environment:production"`
	if !strings.Contains(r.Stdout, "keyless, as "+wantUser) {
		t.Errorf("the log does not say whom the cluster took the token for:\n%s", r.Stdout)
	}
	issued := c.OIDC.Issued(prod)
	r = runAction(t, keylessInputs(c, ns, "2.0.0", "strategy", "canary", "stages", "50,100", "interval", "6s"), prod...)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("keyless canary: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	if n := c.OIDC.Issued(prod) - issued; n < 3 {
		t.Errorf("a canary of 12 s with 6 s tokens fetched %d tokens, want them renewed before they expire (3 or more)", n)
	}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(line, "::add-mask::") {
			continue
		}
		if strings.Contains(line, "eyJ") {
			t.Errorf("a token shows in the log: %s", line)
		}
	}

	before := releaseSecrets(t, c, ns)
	staging := c.OIDC.Runner(testcluster.Grant{Repository: keylessRepo, Environment: "staging"})
	r = runAction(t, keylessInputs(c, ns, "3.0.0"), staging...)
	if r.Exit == 0 {
		t.Fatalf("another environment's job deployed:\n%s", r.Stdout)
	}
	for _, want := range []string{`github:repo:acme/web:environment:staging`, "forbidden"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.Stdout)
		}
	}
	if after := releaseSecrets(t, c, ns); after != before {
		t.Errorf("the refused job wrote: %s → %s", before, after)
	}
}

// Without `permissions: id-token: write` the runner gives no token: the error says what to add.
func TestKeylessWithoutIDTokenPermission(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	r := runAction(t, keylessInputs(c, c.NewNamespace(t), "1.0.0"))
	if r.Exit == 0 || !strings.Contains(r.Stdout, "permissions: id-token: write") || !strings.Contains(r.Stdout, "cluster_url") {
		t.Fatalf("exit %d\n%s", r.Exit, r.Stdout)
	}
}

// A token for an audience the cluster does not accept: 401, naming the subject and audience.
func TestKeylessWrongAudience(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	job := c.OIDC.Runner(testcluster.Grant{Repository: keylessRepo, Environment: "production"})
	r := runAction(t, keylessInputs(c, c.NewNamespace(t), "1.0.0", "oidc_audience", "sts.amazonaws.com"), job...)
	for _, want := range []string{"401", `"repo:acme/web:environment:production"`, "sts.amazonaws.com", "oidc_audience"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.Stdout)
		}
	}
	if r.Exit == 0 {
		t.Error("exit 0")
	}
}

// A kubeconfig whose user is client-go's legacy `auth-provider: oidc` (an ID token) works.
func TestLegacyOIDCAuthProvider(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bindEnvironment(t, c, ns, "production")
	tok, err := c.OIDC.Token(testcluster.Grant{Repository: keylessRepo, Environment: "production"}, c.OIDC.Audience)
	if err != nil {
		t.Fatal(err)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        idp-issuer-url: %s
        client-id: %s
        id-token: %s
contexts:
- name: local
  context: {cluster: local, user: oidc}
current-context: local
`, c.APIServerURL, b64(c.CA().PEM()), c.OIDC.Issuer, c.OIDC.Audience, tok)
	r := runAction(t, deployInputs(c, ns, "1.0.0", "kubeconfig", kc))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	if strings.Contains(strings.ReplaceAll(r.Stdout, "::add-mask::"+tok, ""), tok) {
		t.Error("the ID token shows in the log")
	}
}

// releaseSecrets names Helm's release records in ns with their versions.
func releaseSecrets(t *testing.T, c *testcluster.Cluster, ns string) string {
	t.Helper()
	l, err := c.Client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range l.Items {
		out = append(out, s.Name+"@"+s.ResourceVersion)
	}
	return strings.Join(out, " ")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
