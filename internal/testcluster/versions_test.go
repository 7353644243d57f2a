package testcluster

import (
	"os"
	"strings"
	"testing"
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
