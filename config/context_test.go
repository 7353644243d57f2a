package config

import (
	"strings"
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: abc}
contexts:
- name: staging
  context: {cluster: c, user: u}
- name: production
  context: {cluster: c, user: u}
current-context: staging
`

func TestContextMustBeInTheKubeconfig(t *testing.T) {
	in := map[string]string{InRelease: "web", InChart: "./chart", InKubeconfig: twoContexts}
	get := func(k string) string { return in[k] }
	if _, err := FromInputs(get); err != nil {
		t.Fatalf("no context: %v", err)
	}
	in[InContext] = "production"
	if _, err := FromInputs(get); err != nil {
		t.Fatalf("a known context: %v", err)
	}
	in[InContext] = "prod"
	_, err := FromInputs(get)
	if err == nil || !strings.Contains(err.Error(), `context: "prod" is not a context of the kubeconfig (it has: production, staging)`) {
		t.Fatalf("unknown context: %v", err)
	}
}
