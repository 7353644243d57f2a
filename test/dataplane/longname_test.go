//go:build e2e

package dataplane

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A release with a 50-character name: the API server cuts its canary pods' generated names,
// so a pattern built from the Deployment's name matches none of them. The canary's pods are
// found by the ReplicaSets that own them, its traffic is read, and it is promoted.
func TestCanaryWithALongReleaseNameIsJudgedOnItsPods(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	name := "checkout-" + strings.Repeat("x", 41) // 50 characters
	in := func(tag string) map[string]string {
		return canaryInputs(c, ns, tag, "release", name, "set", "replicaCount=2")
	}
	if r := runAction(t, in("1.0.0")); r.Exit != 0 {
		t.Fatalf("first install: exit %d\n%s", r.Exit, r.Stdout)
	}
	r := runAction(t, in("2.0.0"))
	if r.Exit != 0 {
		t.Fatalf("exit %d for a healthy canary with a long name (no data?)\n%s", r.Exit, r.Stdout)
	}
	wantOut(t, r, "status", "succeeded")
	wantOut(t, r, "canary_weight", "100")
	// Both tracks' requests were counted at 50%: the canary's pods matched.
	if strings.Count(r.Summary, "0.00% (0/") < 2 {
		t.Errorf("the stage table does not show the canary's and the stable track's traffic:\n%s", r.Summary)
	}
}
