package kube

import (
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestPluginOf(t *testing.T) {
	for _, tc := range []struct {
		command, args, kind string
		arg, want           string
	}{
		{"aws", "--region, eu-west-1, eks, get-token, --cluster-name, prod", PluginEKS, "--cluster-name", "prod"},
		{"/usr/local/bin/aws-iam-authenticator", "token, -i, prod", PluginEKS, "-i", "prod"},
		{"gke-gcloud-auth-plugin", "", PluginGKE, "", ""},
		{"kubelogin", "get-token, --login=workloadidentity, --server-id, abc", PluginAKS, "--login", "workloadidentity"},
		{"doctl", "kubernetes, cluster, kubeconfig, exec-credential", "", "", ""},
	} {
		kc := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: " +
			tc.command + ", args: [" + tc.args + "]}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
		raw, err := clientcmd.Load([]byte(kc))
		if err != nil {
			t.Fatal(err)
		}
		p := PluginOf(raw, "")
		if p == nil || p.Kind != tc.kind || p.User != "u" {
			t.Errorf("%s: %+v, want kind %q", tc.command, p, tc.kind)
			continue
		}
		if tc.arg != "" && p.Arg(tc.arg) != tc.want {
			t.Errorf("%s: Arg(%s) = %q, want %q", tc.command, tc.arg, p.Arg(tc.arg), tc.want)
		}
	}
}

// A plugin that is on the PATH runs as kubectl runs it; one that is not, with no maker, is an
// error naming it.
func TestPluginsRunWhenThere(t *testing.T) {
	kc := []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: doctl, args: [k]}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
	there := &Providers{LookPath: func(string) (string, error) { return "/usr/bin/doctl", nil }}
	if _, err := NewWith(kc, "", "default", there); err != nil {
		t.Errorf("a plugin on the PATH: %v", err)
	}
	missing := &Providers{LookPath: func(string) (string, error) { return "", errNotFound }}
	_, err := NewWith(kc, "", "default", missing)
	if err == nil || !strings.Contains(err.Error(), "`doctl k`") || !strings.Contains(err.Error(), "cluster_url") {
		t.Errorf("a plugin not there: %v", err)
	}
}

var errNotFound = &notFoundError{}

type notFoundError struct{}

func (*notFoundError) Error() string { return "not found" }
