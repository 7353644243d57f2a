package release

import (
	"testing"

	helmrelease "helm.sh/helm/v3/pkg/release"
)

// After an auto-rollback, revision 4 is a copy of 2: rolling back from 4 must go to 1, the
// last good revision that differs from what runs now.
func TestLastGoodSkipsCopiesOfTheRevisionBeingLeft(t *testing.T) {
	rel := func(v int, st helmrelease.Status, manifest string) *helmrelease.Release {
		return &helmrelease.Release{Version: v, Manifest: manifest, Info: &helmrelease.Info{Status: st}}
	}
	hist := []*helmrelease.Release{
		rel(1, helmrelease.StatusSuperseded, "image: 1.0.0"),
		rel(2, helmrelease.StatusSuperseded, "image: 1.1.0"),
		rel(3, helmrelease.StatusFailed, "image: 1.2.0-crashloop"),
		rel(4, helmrelease.StatusDeployed, "image: 1.1.0"),
	}
	if got := LastGood(hist, 4, nil); got == nil || got.Version != 1 {
		t.Fatalf("LastGood(before 4) = %v, want revision 1", got)
	}
	if got := LastGood(hist, 3, nil); got == nil || got.Version != 2 {
		t.Fatalf("LastGood(before 3) = %v, want revision 2", got)
	}
	if got := LastGood(hist[:2], 2, nil); got == nil || got.Version != 1 {
		t.Fatalf("LastGood(before 2) = %v, want revision 1", got)
	}
}
