package strategy

import (
	"strings"
	"testing"
)

func TestKeepCapacity(t *testing.T) {
	deployment := func(strategy string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n" + strategy +
			"  template:\n    spec:\n      containers: [{name: app, image: x}]\n"
	}
	for _, tc := range []struct {
		name, strategy, want, changed string
	}{
		{"podinfo's maxUnavailable 1", "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 1\n", "maxUnavailable: 0", "Deployment/web: maxUnavailable 1 → 0"},
		{"Kubernetes' default (25%)", "", "maxUnavailable: 0", "Deployment/web: maxUnavailable 25% → 0"},
		{"already 0", "  strategy:\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 25%\n", "maxUnavailable: 0", ""},
		{"0 and no surge", "  strategy:\n    rollingUpdate:\n      maxUnavailable: 0%\n      maxSurge: 0\n", "maxSurge: 1", "Deployment/web: maxUnavailable 0% → 0, maxSurge 0 → 1"},
		{"Recreate is the chart's choice", "  strategy:\n    type: Recreate\n", "type: Recreate", ""},
	} {
		out, changed, err := KeepCapacity("---\n"+deployment(tc.strategy), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: %q not in\n%s", tc.name, tc.want, out)
		}
		if got := strings.Join(changed, "; "); got != tc.changed {
			t.Errorf("%s: changed %q, want %q", tc.name, got, tc.changed)
		}
	}
}
