package config

import (
	"slices"
	"testing"
)

const tokenKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
contexts:
- name: oidc
  context: {cluster: c, user: oidc}
- name: exec
  context: {cluster: c, user: exec}
- name: sa
  context: {cluster: c, user: sa}
current-context: sa
users:
- name: sa
  user:
    token: sa-token-value-123
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        client-id: shepherd
        client-secret: oidc-client-secret-456
        id-token: oidc-id-token-789
        access-token: oidc-access-token-abc
        idp-issuer-url: https://issuer.example.com
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
      env:
      - name: CLOUD_API_KEY
        value: exec-env-value-def
      interactiveMode: Never
`

func TestKubeconfigSecrets(t *testing.T) {
	got := KubeconfigSecrets(tokenKubeconfig)
	for _, s := range []string{"sa-token-value-123", "oidc-client-secret-456", "oidc-id-token-789", "oidc-access-token-abc", "exec-env-value-def"} {
		if !slices.Contains(got, s) {
			t.Errorf("KubeconfigSecrets misses %q (got %q)", s, got)
		}
	}
	for _, s := range []string{"shepherd", "https://issuer.example.com", "get-token", "CLOUD_API_KEY"} {
		if slices.Contains(got, s) {
			t.Errorf("KubeconfigSecrets lists %q, which is not a credential", s)
		}
	}
	seen := map[string]bool{}
	for _, s := range got {
		if seen[s] {
			t.Errorf("%q listed twice", s)
		}
		seen[s] = true
	}
	if got := KubeconfigSecrets("token: not-yaml-but-a-token\n\t{{{"); !slices.Contains(got, "not-yaml-but-a-token") {
		t.Errorf("a kubeconfig that does not parse: its token line is not found (%q)", got)
	}
}

func TestSetSecrets(t *testing.T) {
	c := Config{Set: []string{"db.password=hunter2", "image.tag=1.2.3", "api.apiKey=k-123", "auth.token=t-9",
		"replicaCount=3", "slack.webhookUrl=https://hooks.example.com/x", "secretEnv[0].name=DB"}}
	got := c.SetSecrets()
	want := []string{"hunter2", "k-123", "t-9", "https://hooks.example.com/x"}
	if !slices.Equal(got, want) {
		t.Errorf("SetSecrets = %q, want %q", got, want)
	}
}
