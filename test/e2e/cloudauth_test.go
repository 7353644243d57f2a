//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// The kubeconfigs managed clusters hand out name exec plugins that the action's image does
// not carry. EKS's (`aws eks get-token`) is made in process — aws-iam-authenticator's token
// format, presigned with AWS SDK v2 — from the keys aws-actions/configure-aws-credentials
// exports; the local API server verifies it through a token webhook running
// aws-iam-authenticator's own verifier against a local stand-in of STS (only AWS reaches the
// real one), which checks the SigV4 signature.

// execKubeconfig is a kubeconfig whose user runs command args, as the clouds' CLIs write it.
func execKubeconfig(c *testcluster.Cluster, command string, args ...string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: cloud
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: cloud-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: %s
      args: [%s]
      interactiveMode: Never
contexts:
- name: cloud
  context: {cluster: cloud, user: cloud-user}
current-context: cloud
`, c.APIServerURL, b64(c.CA().PEM()), command, strings.Join(args, ", "))
}

// bindUser binds examples/rbac.yaml's Role in ns to user.
func bindUser(t *testing.T, c *testcluster.Cluster, ns, user string) {
	t.Helper()
	role := exampleRole(t)
	role.Namespace = ns
	ctx := context.Background()
	if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: ns},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name}}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// noCloudCLIs is the PATH of the action's image: none of the clouds' plugins.
const noCloudCLIs = "PATH=/nonexistent"

func TestEKSExecPluginInProcess(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ci := c.AWS.User("ci")
	bindUser(t, c, ns, ci.ARN)
	kc := execKubeconfig(c, "aws", "--region", c.AWS.Region, "eks", "get-token", "--cluster-name", c.AWS.ClusterID, "--output", "json")
	env := []string{noCloudCLIs, "RUNNER_DEBUG=1", "AWS_ACCESS_KEY_ID=" + ci.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ci.SecretAccessKey, "AWS_REGION=" + c.AWS.Region}
	r := runAction(t, deployInputs(c, ns, "1.0.0", "kubeconfig", kc), env...)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	want := fmt.Sprintf(`with a token made in process, as user %q (EKS cluster %s in %s, AWS access key %s)`, ci.ARN, c.AWS.ClusterID, c.AWS.Region, ci.AccessKeyID)
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("the log does not say %q:\n%s", want, r.Stdout)
	}
	if strings.Contains(actionrun.Unmasked(r.Stdout), ci.SecretAccessKey) || strings.Contains(actionrun.Unmasked(r.Stdout), "k8s-aws-v1.") {
		t.Errorf("a credential shows in the log:\n%s", r.Stdout)
	}

	// A wrong secret: STS's signature check fails, the cluster says 401, the error names the
	// access key (never the secret) and nothing is written.
	before := releaseSecrets(t, c, ns)
	bad := append(env[:len(env):len(env)], "AWS_SECRET_ACCESS_KEY=not-the-secret-0000")
	r = runAction(t, deployInputs(c, ns, "2.0.0", "kubeconfig", kc), bad...)
	for _, w := range []string{"401", ci.AccessKeyID, "kubeconfig"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("the refusal does not say %q:\n%s", w, r.Stdout)
		}
	}
	if r.Exit == 0 || strings.Contains(actionrun.Unmasked(r.Stdout), "not-the-secret-0000") {
		t.Errorf("exit %d, or the secret shows:\n%s", r.Exit, r.Stdout)
	}
	if after := releaseSecrets(t, c, ns); after != before {
		t.Errorf("the refused run wrote: %s → %s", before, after)
	}

	// No AWS credentials at all: the error says which action exports them.
	r = runAction(t, deployInputs(c, ns, "2.0.0", "kubeconfig", kc), noCloudCLIs, "AWS_REGION="+c.AWS.Region)
	if r.Exit == 0 || !strings.Contains(r.Stdout, "aws-actions/configure-aws-credentials") {
		t.Errorf("exit %d\n%s", r.Exit, r.Stdout)
	}
}

// A plugin Shepherd cannot run and has no in-process maker for: a pre-flight error naming the
// command and the ways in that work, nothing written.
func TestUnknownExecPlugin(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := runAction(t, deployInputs(c, ns, "1.0.0", "kubeconfig", execKubeconfig(c, "doctl", "kubernetes", "cluster", "kubeconfig", "exec-credential", "abc")), noCloudCLIs)
	for _, w := range []string{"kubeconfig:", "`doctl kubernetes cluster kubeconfig exec-credential abc`", "not in this container", "cluster_url", "aws eks get-token"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("the error does not say %q:\n%s", w, r.Stdout)
		}
	}
	if r.Exit == 0 || releaseSecrets(t, c, ns) != "" {
		t.Errorf("exit %d, or it wrote", r.Exit)
	}
}

// GKE's plugin (gke-gcloud-auth-plugin) is made in process from the external-account file
// google-github-actions/auth writes: the job's OIDC token, exchanged at (a local stand-in of)
// Google's STS, then a service account impersonated — the file named by the runner's path,
// read in the container's workspace. The API server's token webhook names the service
// account's email, as GKE does.
func TestGKEExecPluginInProcess(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	sa := "deployer@acme-prod.iam.gserviceaccount.com"
	grant := testcluster.Grant{Repository: keylessRepo, Environment: "production"}
	c.Google.Allow(sa, grant.Subject())
	bindUser(t, c, ns, sa)
	runner := c.OIDC.Runner(grant)
	reqURL, reqToken := strings.TrimPrefix(runner[0], "ACTIONS_ID_TOKEN_REQUEST_URL="), strings.TrimPrefix(runner[1], "ACTIONS_ID_TOKEN_REQUEST_TOKEN=")
	provider := "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/providers/github"
	creds := fmt.Sprintf(`{
  "type": "external_account",
  "audience": %q,
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": %q,
  "service_account_impersonation_url": %q,
  "credential_source": {
    "url": %q,
    "headers": {"Authorization": "Bearer %s"},
    "format": {"type": "json", "subject_token_field_name": "value"}
  }
}`, provider, c.Google.URL+"/v1/token", c.Google.URL+"/v1/projects/-/serviceAccounts/"+sa+":generateAccessToken",
		reqURL+"&audience=https:"+provider, reqToken)
	workspace := t.TempDir()
	if err := os.WriteFile(filepath.Join(workspace, "gha-creds-1a2b.json"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, c.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{noCloudCLIs, "SSL_CERT_FILE=" + caFile, // the stand-ins' CA, as the real endpoints' is the system's
		"RUNNER_WORKSPACE=/home/runner/work/web", "GITHUB_WORKSPACE=" + workspace,
		"GOOGLE_APPLICATION_CREDENTIALS=/home/runner/work/web/web/gha-creds-1a2b.json"}, runner...)
	kc := execKubeconfig(c, "gke-gcloud-auth-plugin")
	// The file's token and impersonation URLs are the stand-ins', not Google's: the workflow
	// lists them (the subject token's source is the job's own token service).
	in := func(tag string) map[string]string {
		return deployInputs(c, ns, tag, "kubeconfig", kc, "cloud_endpoints", c.Google.URL)
	}
	r := runAction(t, in("1.0.0"), env...)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	want := fmt.Sprintf(`as user %q (Google service account %s (workload identity federation))`, sa, sa)
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("the log does not say %q:\n%s", want, r.Stdout)
	}
	if strings.Contains(actionrun.Unmasked(r.Stdout), "ya29.") {
		t.Errorf("a Google token shows in the log:\n%s", r.Stdout)
	}

	// Another environment's job may not impersonate the account: the error says so, and
	// nothing is written.
	before := releaseSecrets(t, c, ns)
	other := c.OIDC.Runner(testcluster.Grant{Repository: keylessRepo, Environment: "staging"})
	otherCreds := strings.Replace(creds, reqToken, strings.TrimPrefix(other[1], "ACTIONS_ID_TOKEN_REQUEST_TOKEN="), 1)
	if err := os.WriteFile(filepath.Join(workspace, "gha-creds-1a2b.json"), []byte(otherCreds), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runAction(t, in("2.0.0"), env...)
	if r.Exit == 0 || !strings.Contains(r.Stdout, "PERMISSION_DENIED") && !strings.Contains(r.Stdout, "403") {
		t.Errorf("exit %d\n%s", r.Exit, r.Stdout)
	}
	if after := releaseSecrets(t, c, ns); after != before {
		t.Errorf("the refused run wrote: %s → %s", before, after)
	}
}

// AKS's plugin (kubelogin get-token) is made in process with Microsoft's azidentity against a
// stand-in of Microsoft Entra ID: workload identity federated from the job's own GitHub OIDC
// token, and a service principal's secret. The API server's token webhook names the app.
func TestAKSExecPluginInProcess(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, c.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	grant := testcluster.Grant{Repository: keylessRepo, Environment: "production"}
	for _, tc := range []struct {
		login, client string
		env           []string
	}{
		{"workloadidentity", "0b1f5f44-1111-4c2e-9a55-000000000001", c.OIDC.Runner(grant)},
		{"spn", "0b1f5f44-2222-4c2e-9a55-000000000002", []string{"AAD_SERVICE_PRINCIPAL_CLIENT_SECRET=sp-secret-98765"}},
	} {
		t.Run(tc.login, func(t *testing.T) {
			t.Parallel()
			ns := c.NewNamespace(t)
			c.Azure.App(tc.client, grant.Subject(), "sp-secret-98765")
			bindUser(t, c, ns, tc.client)
			kc := execKubeconfig(c, "kubelogin", "get-token", "--login", tc.login, "--server-id", c.Azure.ServerID,
				"--client-id", tc.client, "--tenant-id", tenant, "--environment", "AzurePublicCloud")
			env := append([]string{noCloudCLIs, "SSL_CERT_FILE=" + caFile, "AZURE_AUTHORITY_HOST=" + c.Azure.Authority}, tc.env...)
			// The stand-in is not Microsoft's host: the workflow lists it, as a private or
			// sovereign authority would be.
			r := runAction(t, deployInputs(c, ns, "1.0.0", "kubeconfig", kc, "cloud_endpoints", c.Azure.Authority), env...)
			if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
				t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
			}
			if want := fmt.Sprintf(`as user %q (Azure client %s in tenant %s`, tc.client, tc.client, tenant); !strings.Contains(r.Stdout, want) {
				t.Errorf("the log does not say %q:\n%s", want, r.Stdout)
			}
			if l := actionrun.Unmasked(r.Stdout); strings.Contains(l, "aad-") || strings.Contains(l, "sp-secret-98765") {
				t.Errorf("a credential shows in the log:\n%s", r.Stdout)
			}
		})
	}
	// A browser login cannot happen in a job: the error says which modes work.
	r := runAction(t, deployInputs(c, c.NewNamespace(t), "1.0.0", "kubeconfig", execKubeconfig(c, "kubelogin", "get-token", "--login", "devicecode",
		"--server-id", c.Azure.ServerID, "--client-id", "x", "--tenant-id", tenant)), noCloudCLIs)
	if r.Exit == 0 || !strings.Contains(r.Stdout, "-l workloadidentity") {
		t.Errorf("exit %d\n%s", r.Exit, r.Stdout)
	}
}

// EKS with a web identity: the job's OIDC token in AWS_WEB_IDENTITY_TOKEN_FILE, exchanged at
// (the stand-in of) STS for a role's keys, which sign the token; the cluster names the role.
func TestEKSWebIdentity(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	grant := testcluster.Grant{Repository: keylessRepo, Environment: "production"}
	role := c.AWS.Role("deploy", grant.Subject())
	bindUser(t, c, ns, role)
	jwt, err := c.OIDC.Token(grant, "sts.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokenFile, caFile := filepath.Join(dir, "token"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(tokenFile, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, c.CA().PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	kc := execKubeconfig(c, "aws", "eks", "get-token", "--cluster-name", c.AWS.ClusterID, "--region", c.AWS.Region)
	// The stand-in of STS is not in AWS's domains: the workflow lists it.
	r := runAction(t, deployInputs(c, ns, "1.0.0", "kubeconfig", kc, "cloud_endpoints", c.AWS.STSURL), noCloudCLIs, "SSL_CERT_FILE="+caFile,
		"AWS_WEB_IDENTITY_TOKEN_FILE="+tokenFile, "AWS_ROLE_ARN="+role, "AWS_ENDPOINT_URL_STS="+c.AWS.STSURL)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	if want := fmt.Sprintf("as user %q (EKS cluster %s in %s, AWS role %s (web identity))", role, c.AWS.ClusterID, c.AWS.Region, role); !strings.Contains(r.Stdout, want) {
		t.Errorf("the log does not say %q:\n%s", want, r.Stdout)
	}
}
