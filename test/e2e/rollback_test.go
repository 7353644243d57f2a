//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"helm.sh/helm/v3/pkg/action"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func rollbackInputs(c *testcluster.Cluster, ns string, extra ...string) map[string]string {
	in := map[string]string{"mode": "rollback", "release": "web", "namespace": ns,
		"kubeconfig": string(c.Kubeconfig), "verify_duration": "2s", "timeout": "60s"}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

func description(t *testing.T, c *testcluster.Cluster, ns string, rev int) string {
	t.Helper()
	rel, err := action.NewGet(helmFor(t, c, ns)).Run("web")
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != rev {
		t.Fatalf("latest revision is %d, want %d", rel.Version, rev)
	}
	return rel.Info.Description
}

func TestRollbackModeToPrevious(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	install(t, c, ns, "1.1.0")
	r := runAction(t, rollbackInputs(c, ns, "reason", "p99 latency doubled after 1.1.0"))
	want(t, "exit", r.Exit, 0)
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	want(t, "revision", r.Outputs["revision"], "3")
	want(t, "previous_revision", r.Outputs["previous_revision"], "2")
	want(t, "reason", r.Outputs["reason"], "p99 latency doubled after 1.1.0")
	serving(t, c, ns, "1.0.0")
	wantHistory(t, c, ns, "1:superseded", "2:superseded", "3:deployed")
	// the reason is where people look later: Helm history, an Event, the summary
	if d := description(t, c, ns, 3); !strings.Contains(d, "p99 latency doubled after 1.1.0") {
		t.Errorf("helm description %q lacks the reason", d)
	}
	sel := fields.Set{"involvedObject.kind": "Deployment", "involvedObject.name": "web", "reason": "ShepherdRollback"}.AsSelector().String()
	evs, err := c.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil || len(evs.Items) != 1 || !strings.Contains(evs.Items[0].Message, "p99 latency doubled") {
		t.Errorf("want one ShepherdRollback event with the reason, got %v %+v", err, evs)
	}
	for _, s := range []string{"| Reason | p99 latency doubled after 1.1.0 |", "### Rollback chain", "watching it for 2s"} {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, r.Summary)
		}
	}
	if !chainRow(1, 1, 3, "verified").MatchString(r.Summary) {
		t.Errorf("summary chain lacks 1 → 3 verified:\n%s", r.Summary)
	}
}

func TestRollbackModeToNamedRevision(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	for _, tag := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		install(t, c, ns, tag)
	}
	r := runAction(t, rollbackInputs(c, ns, "revision", "1", "reason", "back to the known good build"))
	want(t, "exit", r.Exit, 0)
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	serving(t, c, ns, "1.0.0")
	wantHistory(t, c, ns, "1:superseded", "2:superseded", "3:superseded", "4:deployed")
}

func TestRollbackModeNonexistentRevision(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	install(t, c, ns, "1.1.0")
	r := runAction(t, rollbackInputs(c, ns, "revision", "9", "reason", "typo"))
	if r.Exit == 0 {
		t.Fatal("rolling back to a revision that does not exist exited 0")
	}
	if !strings.Contains(r.Stdout, "revision: 9 does not exist; release web has revisions 1, 2") {
		t.Errorf("the error does not name the revisions that exist:\n%s", r.Stdout)
	}
	wantHistory(t, c, ns, "1:superseded", "2:deployed")
	serving(t, c, ns, "1.1.0")
}

func TestHistoryMode(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	install(t, c, ns, "1.1.0")
	r := runAction(t, map[string]string{"mode": "history", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig)})
	want(t, "exit", r.Exit, 0)
	var revs []struct {
		Revision    int    `json:"revision"`
		Status      string `json:"status"`
		Chart       string `json:"chart"`
		AppVersion  string `json:"app_version"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal([]byte(r.Outputs["revisions"]), &revs); err != nil {
		t.Fatalf("revisions output: %v: %q", err, r.Outputs["revisions"])
	}
	if len(revs) != 2 || revs[0].Status != "superseded" || revs[1].Status != "deployed" || revs[1].Chart != "example-app-0.1.0" ||
		!strings.Contains(revs[1].Description, "1.1.0") {
		t.Errorf("revisions = %+v", revs)
	}
	if !strings.Contains(r.Summary, "| revision | updated | status | images | chart | description |") || !strings.Contains(r.Summary, "| example-app:1.1.0 |") {
		t.Errorf("summary lacks the revisions table:\n%s", r.Summary)
	}
}

// The last good revision (by Helm's record) is bad now: the rollback verifies it, finds it
// crash-looping, and cascades to the next older good revision.
func TestRollbackModeCascadesPastBadTarget(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	// revision 2 was deployed without watching (helm upgrade, no --wait): Helm calls it deployed.
	if err := helmUpgrade(t, c, ns, "1.1.0-crashloop", 0); err != nil {
		t.Fatal(err)
	}
	install(t, c, ns, "1.2.0") // superseding 2: Helm now calls 2 "superseded", a good revision
	wantHistory(t, c, ns, "1:superseded", "2:superseded", "3:deployed")

	r := runAction(t, rollbackInputs(c, ns, "reason", "1.2.0 corrupts carts"))
	want(t, "exit", r.Exit, 0)
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	want(t, "failure_reason", r.Outputs["failure_reason"], "crash-loop")
	serving(t, c, ns, "1.0.0")
	wantHistory(t, c, ns, "1:superseded", "2:superseded", "3:superseded", "4:failed", "5:deployed")
	if !chainRow(1, 2, 4, "failed: crash-loop").MatchString(r.Summary) || !chainRow(2, 1, 5, "verified").MatchString(r.Summary) {
		t.Errorf("summary chain lacks 2 → 4 failed, then 1 → 5 verified:\n%s", r.Summary)
	}
}

// A rollback is only done after its verification window (no restart, no unready pod) has passed.
func TestRollbackModeWaitsOutVerifyWindow(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	install(t, c, ns, "1.1.0")
	start := time.Now()
	r := runAction(t, rollbackInputs(c, ns, "reason", "verify", "verify_duration", "3s"))
	want(t, "exit", r.Exit, 0)
	if time.Since(start) < 3*time.Second {
		t.Errorf("the rollback returned in %s, before its 3s verification window", time.Since(start))
	}
}

// chainRow matches a row of the summary's rollback chain: step, target, new revision, the
// rollout and verify times, and a verdict starting with verdict.
func chainRow(step, target, newRev int, verdict string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`\| %d \| %d \| %d \| [0-9.–s]+ \| [0-9.–s]+ \| %s`, step, target, newRev, regexp.QuoteMeta(verdict)))
}
