//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// tokenOf returns the token of the current user of a token kubeconfig.
func tokenOf(t *testing.T, kc []byte) string {
	t.Helper()
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		t.Fatal(err)
	}
	tok := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].Token
	if tok == "" {
		t.Fatal("no token in the kubeconfig")
	}
	return tok
}

// Kubeconfigs as users have them: an exec plugin that gets its token from an env value, and an
// OIDC auth-provider user beside it. Every credential is masked, and none is printed, even in
// a debug run.
func TestActionMasksExecAndAuthProviderCredentials(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	token := tokenOf(t, tokenKubeconfig(t, c, ns))
	cfg, err := clientcmd.Load(tokenKubeconfig(t, c, ns))
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	cfg.AuthInfos[ctx.AuthInfo] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1", Command: "/bin/sh", InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		Args: []string{"-c", `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$CLOUD_TOKEN"`},
		Env:  []clientcmdapi.ExecEnvVar{{Name: "CLOUD_TOKEN", Value: token}}}}
	const idToken, accessToken, clientSecret = "eyJhbGciOiJSUzI1NiJ9.oidc-id-token-e2e", "oidc-access-token-e2e-0123456789", "oidc-client-secret-e2e-0123456789"
	cfg.AuthInfos["oidc"] = &clientcmdapi.AuthInfo{AuthProvider: &clientcmdapi.AuthProviderConfig{Name: "oidc", Config: map[string]string{
		"client-id": "shepherd", "client-secret": clientSecret, "id-token": idToken, "access-token": accessToken,
		"idp-issuer-url": "https://issuer.example.com"}}}
	cfg.Contexts["oidc"] = &clientcmdapi.Context{Cluster: ctx.Cluster, AuthInfo: "oidc"}
	kc, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := deployInputs(c, ns, "1.0.0")
	in["kubeconfig"] = string(kc)
	r := runAction(t, in, "RUNNER_DEBUG=1")
	want(t, "status", r.Outputs["status"], "succeeded")
	for _, s := range []string{token, idToken, accessToken, clientSecret} {
		if !strings.Contains(r.Stdout, "::add-mask::"+s) {
			t.Errorf("credential %.12s… was not masked", s)
		}
		printed := strings.ReplaceAll(r.Stdout, "::add-mask::"+s, "")
		if strings.Contains(printed, s) || strings.Contains(r.Summary, s) {
			t.Errorf("credential %.12s… is printed", s)
		}
	}
}

// The CLI finds its kubeconfig as kubectl does: a KUBECONFIG list is merged (a missing file is
// skipped), and a file that is not a kubeconfig is named.
func TestCLIKubeconfigListAndBadFile(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	missing := filepath.Join(t.TempDir(), "absent")
	r := runCLIEnv(t, []string{"KUBECONFIG=" + missing + string(os.PathListSeparator) + c.KubeconfigPath},
		"history", "--release", "web", "--namespace", ns)
	want(t, "exit", r.exit, 0)
	if !strings.Contains(r.out, "deployed") {
		t.Errorf("history through a KUBECONFIG list:\n%s", r.out)
	}
	bad := filepath.Join(t.TempDir(), "garbage.yaml")
	if err := os.WriteFile(bad, []byte("{{{ not yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLIEnv(t, nil, "history", "--release", "web", "--namespace", ns, "--kubeconfig", bad)
	if r.exit == 0 || !strings.Contains(r.out, bad) {
		t.Errorf("a garbage kubeconfig file: exit %d, want non-zero naming %s:\n%s", r.exit, bad, r.out)
	}
}

// On a self-hosted runner inside the cluster (a pod with a service account), the action needs
// no kubeconfig: it uses the pod's own. The pod is simulated by mounting the service account's
// files where Kubernetes mounts them, in a mount namespace of the test's own.
func TestActionInClusterServiceAccount(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	token := tokenOf(t, tokenKubeconfig(t, c, ns))
	sa := t.TempDir()
	for name, content := range map[string][]byte{"token": []byte(token), "ca.crt": c.Config.CAData, "namespace": []byte(ns)} {
		if err := os.WriteFile(filepath.Join(sa, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host := strings.TrimPrefix(c.Config.Host, "https://")
	h, p, _ := strings.Cut(host, ":")
	in := deployInputs(c, ns, "1.0.0")
	delete(in, "kubeconfig")
	// unshare: a private mount namespace; a tmpfs over /run hides the host's and holds the
	// service account files at /var/run/secrets/kubernetes.io/serviceaccount.
	script := `mount -t tmpfs tmpfs /run && d=/var/run/secrets/kubernetes.io/serviceaccount && mkdir -p $d && cp "$SA"/* $d/ && exec "$BIN"`
	r := runActionCmd(t, exec.Command("unshare", "--mount", "/bin/sh", "-c", script), in,
		"SA="+sa, "BIN="+shepherdBinary(t), "KUBERNETES_SERVICE_HOST="+h, "KUBERNETES_SERVICE_PORT="+p, "RUNNER_DEBUG=1")
	want(t, "status", r.Outputs["status"], "succeeded")
	if !strings.Contains(r.Stdout, "using the service account of the pod") {
		t.Errorf("the run does not say it used the pod's service account:\n%s", r.Stdout)
	}
	if strings.Contains(r.Stdout, token) || strings.Contains(r.Summary, token) {
		t.Error("the service account token is printed")
	}
	serving(t, c, ns, "1.0.0")
}
