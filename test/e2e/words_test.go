//go:build e2e

package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A namespace that does not exist is a pre-flight error naming it, before the lock (whose error
// would not say so), without doubled prefixes, and without claiming a first install.
func TestMissingNamespaceIsNamed(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	r := runAction(t, deployInputs(c, "no-such-namespace-e2e", "1.0.0"))
	if r.Exit == 0 {
		t.Fatal("a deploy to a missing namespace exited 0")
	}
	if !strings.Contains(r.Stdout, `namespace: namespace "no-such-namespace-e2e" does not exist (nothing was changed)`) {
		t.Errorf("the run does not name the missing namespace:\n%s", r.Stdout)
	}
	for _, bad := range []string{"lock release", "pre-flight: ", "first install"} {
		if strings.Contains(r.Stdout+r.Summary, bad) {
			t.Errorf("output says %q:\n%s\n%s", bad, r.Stdout, r.Summary)
		}
	}
}

// A rollback's report gives the time to the switch (its rollout) and the verify window apart.
func TestRollbackReportTimesSwitchAndVerify(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	install(t, c, ns, "1.1.0")
	r := runAction(t, map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig),
		"verify_duration": "2s", "reason": "timing"})
	want(t, "status", r.Outputs["status"], "rolled-back")
	if !strings.Contains(r.Summary, "| # | rolled back to | as revision | rolled out in | verified for | verdict |") {
		t.Errorf("the rollback chain has no separate switch and verify times:\n%s", r.Summary)
	}
	row := regexp.MustCompile(`\| 1 \| 1 \| 3 \| ([0-9.]+)s \| ([0-9.]+)s \| verified \|`).FindStringSubmatch(r.Summary)
	if row == nil {
		t.Fatalf("no timed row for the rollback:\n%s", r.Summary)
	}
	if v, _ := strconv.ParseFloat(row[2], 64); v < 2 {
		t.Errorf("verified for %ss, want the 2s window", row[2])
	}
}
