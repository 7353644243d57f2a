package deploy

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// A rollout keep_capacity made surge that stalls on capacity is diagnosed naming keep_capacity
// and what it changed; any other failure, or a rollout keep_capacity left alone, keeps its
// hint.
func TestSurgeStalledNamesKeepCapacity(t *testing.T) {
	quota := diagnose.Diagnosis{Category: diagnose.Capacity, Hint: "A ResourceQuota blocks new pods: raise the quota or lower the requests."}
	kept := []string{"Deployment/web: maxUnavailable 1 → 0"}
	got := surgeStalled(quota, kept)
	for _, s := range []string{"keep_capacity", "Deployment/web: maxUnavailable 1 → 0", "keep_capacity: false", quota.Hint} {
		if !strings.Contains(got.Hint, s) {
			t.Errorf("hint %q does not say %q", got.Hint, s)
		}
	}
	if h := surgeStalled(quota, nil).Hint; h != quota.Hint {
		t.Errorf("a rollout keep_capacity left alone: hint %q", h)
	}
	probe := diagnose.Diagnosis{Category: diagnose.Probe, Hint: "probe"}
	if h := surgeStalled(probe, kept).Hint; h != "probe" {
		t.Errorf("a failed probe: hint %q", h)
	}
}
