package testcluster

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The version constants key the binary cache; the tools module is what gets built. They must agree.
func TestVersionsMatchToolsModule(t *testing.T) {
	data, err := os.ReadFile("tools/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := string(data)
	for _, want := range []string{
		"\tk8s.io/kubernetes " + KubernetesVersion + "\n",
		"\tgo.etcd.io/etcd/server/v3 " + EtcdVersion + "\n",
		"k8s.io/client-go => k8s.io/client-go v0." + strings.TrimPrefix(KubernetesVersion, "v1.") + "\n",
	} {
		if !strings.Contains(mod, want) {
			t.Errorf("tools/go.mod does not pin %q", strings.TrimSpace(want))
		}
	}
}

func TestCRILogFormat(t *testing.T) {
	got := criLog([]string{"a", "panic: b"})
	want := "2026-01-01T00:00:00Z stderr F a\n2026-01-01T00:00:01Z stderr F panic: b\n"
	if got != want {
		t.Fatalf("criLog = %q, want %q", got, want)
	}
}

// The Makefile installs the Prometheus and registry packages the test tooling names.
func TestPackagesMatchMakefile(t *testing.T) {
	data, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"PROMETHEUS_PKG := " + PrometheusPackage, "REGISTRY_PKG := " + RegistryPackage} {
		if !strings.Contains(string(data), line+"\n") {
			t.Errorf("the Makefile does not say %s", line)
		}
	}
}

func TestServesForReal(t *testing.T) {
	pod := func(image string) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}}
	}
	for image, want := range map[string]bool{
		"ghcr.io/shepherd-deploy/example-app:1.2.0":           true,
		"registry.local:5000/team/example-app:sha-abc":        true,
		"ghcr.io/shepherd-deploy/example-app:1.2.0-crashloop": false, // left to kwok's fault stages
		"ghcr.io/shepherd-deploy/example-app:bad-image":       false,
		"ghcr.io/shepherd-deploy/example-app:x-never-ready":   false,
		"example.com/web:1.0.0":                               false,
		"ghcr.io/shepherd-deploy/my-example-app:1.0.0":        false,
	} {
		if got := servesForReal(pod(image)); got != want {
			t.Errorf("servesForReal(%s) = %v, want %v", image, got, want)
		}
	}
	if promLabel("app.kubernetes.io/name") != "app_kubernetes_io_name" || promLabel("shepherd.io/track") != "shepherd_io_track" {
		t.Error("promLabel")
	}
}
