package cloudauth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/kube"
)

func TestContainerPath(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "gha-creds-1.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RUNNER_WORKSPACE": "/home/runner/work/web", "GITHUB_WORKSPACE": ws}
	get := func(k string) string { return env[k] }
	if got := containerPath("/home/runner/work/web/web/gha-creds-1.json", get); got != filepath.Join(ws, "gha-creds-1.json") {
		t.Errorf("the runner's path maps to %q", got)
	}
	if got := containerPath("/elsewhere/creds.json", get); got != "/elsewhere/creds.json" {
		t.Errorf("a path outside the workspace maps to %q", got)
	}
	here := filepath.Join(ws, "gha-creds-1.json")
	if got := containerPath(here, get); got != here {
		t.Errorf("a path that exists maps to %q", got)
	}
}

func TestEKSNeedsClusterRegionAndCredentials(t *testing.T) {
	mk := EKS(func(string) string { return "" }, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eks", "get-token"}, "--cluster-name"},
		{[]string{"eks", "get-token", "--cluster-name", "prod"}, "AWS_REGION"},
		{[]string{"eks", "get-token", "--cluster-name", "prod", "--region", "eu-west-1"}, "configure-aws-credentials"},
		{[]string{"eks", "get-token", "--cluster-name", "prod", "--region", "evil.example.com#"}, "not a region"},
	} {
		_, _, err := mk(kube.Plugin{Command: "aws", Args: tc.args, Kind: kube.PluginEKS})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestAKSLoginModes(t *testing.T) {
	mk := AKS(func(string) string { return "" }, nil, nil)
	for mode, want := range map[string]string{"devicecode": "-l workloadidentity", "azurecli": "needs a browser or the az CLI",
		"workloadidentity": "id-token: write", "spn": "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET"} {
		args := []string{"get-token", "--server-id", "s", "--client-id", "c", "--tenant-id", "t", "--login", mode}
		_, _, err := mk(kube.Plugin{Command: "kubelogin", Args: args, Kind: kube.PluginAKS})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--login %s: %v, want an error saying %q", mode, err, want)
		}
	}
}
