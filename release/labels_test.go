package release

import (
	"context"
	"io"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// memoryHelm is a Helm over Helm's own memory storage and fake kube client.
func memoryHelm() *Helm {
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()), KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities, Log: func(string, ...any) {}}
	return &Helm{cfg: cfg, namespace: "default"}
}

// Helm's upgrade copies the last revision's labels forward: a canary's track must not ride on
// the rolling deploy after it (a rollback would pass that revision over as no version), while
// a label another tool set stays.
func TestUpgradeCarriesOnlyTheLabelsAskedFor(t *testing.T) {
	h := memoryHelm()
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "web", Version: "1.0.0"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n")}}}
	ctx := context.Background()
	steps := []struct {
		labels map[string]string
		want   map[string]string
	}{
		{map[string]string{"team": "payments"}, map[string]string{"team": "payments"}},
		{map[string]string{"shepherd.io/track": "canary"}, map[string]string{"team": "payments", "shepherd.io/track": "canary"}},
		{nil, map[string]string{"team": "payments"}},
		{map[string]string{"shepherd.io/color": "green"}, map[string]string{"team": "payments", "shepherd.io/color": "green"}},
		{map[string]string{"shepherd.io/color": "blue"}, map[string]string{"team": "payments", "shepherd.io/color": "blue"}},
	}
	for i, s := range steps {
		rel, err := h.Upgrade(ctx, "web", ch, nil, UpgradeOptions{Labels: s.labels})
		if err != nil {
			t.Fatal(err)
		}
		if len(rel.Labels) != len(s.want) {
			t.Errorf("revision %d labels %v, want %v", i+1, rel.Labels, s.want)
		}
		for k, v := range s.want {
			if rel.Labels[k] != v {
				t.Errorf("revision %d labels %v, want %v", i+1, rel.Labels, s.want)
			}
		}
	}
}
