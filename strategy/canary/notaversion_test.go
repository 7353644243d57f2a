package canary

import (
	"testing"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/release"
)

// A canary's revision ran the stable track beside the canary: a rollback never goes back to it.
func TestLastGoodPassesOverCanaryRevisions(t *testing.T) {
	rev := func(v int, st helmrelease.Status, labels map[string]string) *helmrelease.Release {
		return &helmrelease.Release{Version: v, Info: &helmrelease.Info{Status: st}, Labels: labels, Manifest: string(rune('a' + v))}
	}
	hist := []*helmrelease.Release{rev(1, helmrelease.StatusSuperseded, nil),
		rev(2, helmrelease.StatusSuperseded, map[string]string{TrackLabel: TrackCanary}), rev(3, helmrelease.StatusFailed, nil)}
	if got := release.LastGood(hist, 3, NotAVersion); got == nil || got.Version != 1 {
		t.Errorf("LastGood = %v, want revision 1 (2 was a canary's)", got)
	}
	if got := release.LastGood(hist, 3, nil); got == nil || got.Version != 2 {
		t.Errorf("without the predicate LastGood = %v, want revision 2", got)
	}
}
