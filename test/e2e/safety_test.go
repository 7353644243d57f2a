//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// lockHolder returns the release lock's holder ("" when free) and its phase annotation.
func lockHolder(t *testing.T, c *testcluster.Cluster, ns string) (string, string) {
	t.Helper()
	l, err := c.Client.CoordinationV1().Leases(ns).Get(context.Background(), "shepherd-web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("release lock: %v", err)
	}
	return ptr.Deref(l.Spec.HolderIdentity, ""), l.Annotations["shepherd.io/phase"]
}

// Two runs of one release at once: the second waits for the lock, then fails naming the holder;
// it never writes.
func TestConcurrentDeploysOneWaitsThenFails(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	first := startAction(t, deployInputs(c, ns, "1.1.0-never-ready"), "GITHUB_RUN_ID=1001")
	first.waitFor("revision 2 applied", 30*time.Second)
	second := runAction(t, deployInputs(c, ns, "1.2.0", "lock_timeout", "3s"), "GITHUB_RUN_ID=1002")
	if second.Exit == 0 {
		t.Fatalf("the second run exited 0 while the first held the release:\n%s", second.Stdout)
	}
	if !strings.Contains(second.Stdout, "release web is locked by another run: https://github.com/acme/web/actions/runs/1001") {
		t.Errorf("the second run does not name the holder:\n%s", second.Stdout)
	}
	r := first.wait(2 * time.Minute)
	want(t, "first status", r.Outputs["status"], "rolled-back")
	// only the first run wrote: its upgrade (2) and its rollback (3)
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
	serving(t, c, ns, "1.0.0")
	if h, p := lockHolder(t, c, ns); h != "" || p != "done" {
		t.Errorf("lock after the runs: holder %q phase %q, want free and done", h, p)
	}
}

// Two jobs of one workflow run (a deploy, and an `if: failure()` rollback job of the same run)
// are two holders: the second waits for the lock like any other run, and the first is never
// told it lost its lock.
func TestTwoJobsOfOneRunAreTwoHolders(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	first := startAction(t, deployInputs(c, ns, "1.1.0-never-ready"), "GITHUB_RUN_ID=2001", "GITHUB_JOB=deploy")
	first.waitFor("revision 2 applied", 30*time.Second)
	second := runAction(t, deployInputs(c, ns, "", "mode", "rollback", "chart", "", "reason", "same run", "lock_timeout", "3s"),
		"GITHUB_RUN_ID=2001", "GITHUB_JOB=deploy")
	if second.Exit == 0 || !strings.Contains(second.Stdout, "release web is locked by another run: https://github.com/acme/web/actions/runs/2001 job deploy #") {
		t.Fatalf("a second process of the same run and job did not wait for the lock (exit %d):\n%s", second.Exit, second.Stdout)
	}
	r := first.wait(2 * time.Minute)
	want(t, "first status", r.Outputs["status"], "rolled-back")
	if strings.Contains(r.Stdout, "lost the release lock") {
		t.Errorf("the first run lost its lock to a job of its own run:\n%s", r.Stdout)
	}
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
}

// A killed run left its release in pending-upgrade and its lock unrenewed: the next run takes
// the expired lock over, recovers the release (marks the pending revision failed, never deletes
// history) and deploys.
func TestPendingUpgradeLeftByKilledRunIsRecovered(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	install(t, c, ns, "1.0.0")
	cfg := helmFor(t, c, ns)
	last, err := cfg.Releases.Last("web")
	if err != nil {
		t.Fatal(err)
	}
	pending := *last
	pending.Version, pending.Info = 2, &helmrelease.Info{Status: helmrelease.StatusPendingUpgrade, Description: "Preparing upgrade"}
	if err := cfg.Releases.Create(&pending); err != nil {
		t.Fatal(err)
	}
	// the killed run's lock: held, last renewed 5 minutes ago
	old := metav1.NewMicroTime(time.Now().Add(-5 * time.Minute))
	dead, err := c.Client.CoordinationV1().Leases(ns).Get(ctx, "shepherd-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dead.Annotations["shepherd.io/phase"] = "starting"
	dead.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("https://github.com/acme/web/actions/runs/666"),
		LeaseDurationSeconds: ptr.To[int32](30), AcquireTime: &old, RenewTime: &old}
	if _, err := c.Client.CoordinationV1().Leases(ns).Update(ctx, dead, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := runAction(t, deployInputs(c, ns, "1.1.0"))
	want(t, "status", r.Outputs["status"], "succeeded")
	for _, s := range []string{"took over the lock of an interrupted run (https://github.com/acme/web/actions/runs/666",
		"revision 2 was stuck in pending-upgrade"} {
		if !strings.Contains(r.Stdout+r.Summary, s) {
			t.Errorf("the run does not say %q:\n%s", s, r.Stdout)
		}
	}
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
	serving(t, c, ns, "1.1.0")
}

// A cancelled workflow sends SIGTERM mid-rollout: the run rolls back on its own deadline,
// frees the lock, reports, and exits non-zero.
func TestSIGTERMDuringRolloutLeavesPreviousServing(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	run := startAction(t, deployInputs(c, ns, "1.1.0-never-ready"))
	run.waitFor("revision 2 applied", 30*time.Second)
	time.Sleep(time.Second)
	run.signal(syscall.SIGTERM)
	r := run.wait(time.Minute)
	if r.Exit == 0 {
		t.Fatalf("a cancelled run exited 0:\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "rolled-back")
	if !strings.Contains(r.Stdout, "cancelled") {
		t.Errorf("the run does not say it was cancelled:\n%s", r.Stdout)
	}
	serving(t, c, ns, "1.0.0")
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
	if h, p := lockHolder(t, c, ns); h != "" || p != "done" {
		t.Errorf("lock after SIGTERM: holder %q phase %q, want free and done", h, p)
	}
}

// The apiserver goes away mid-watch and comes back: the watches re-establish and the run
// carries on to its verdict.
func TestAPIServerRestartDuringWatch(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	run := startAction(t, deployInputs(c, ns, "1.1.0-never-ready"))
	run.waitFor("revision 2 applied", 30*time.Second)
	c.StopAPIServer()
	time.Sleep(3 * time.Second)
	if err := c.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := run.wait(2 * time.Minute)
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "failure_reason", r.Outputs["failure_reason"], "probe")
	if t.Failed() {
		t.Logf("the run's log:\n%s", r.Stdout)
	}
	serving(t, c, ns, "1.0.0")
}

// exampleRole is examples/rbac.yaml's Role: the least privilege Shepherd documents.
func exampleRole(t *testing.T) rbacv1.Role {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.Role
	if err := yaml.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	return role
}

// rbacKubeconfig binds a fresh ServiceAccount to the Role of examples/rbac.yaml (optionally
// without one resource) and returns a token kubeconfig for it.
func rbacKubeconfig(t *testing.T, c *testcluster.Cluster, ns, dropResource string) []byte {
	t.Helper()
	role := exampleRole(t)
	var rules []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if len(r.Resources) == 1 && r.Resources[0] == dropResource {
			continue
		}
		rules = append(rules, r)
	}
	role.Rules, role.Namespace = rules, ns
	if _, err := c.Client.RbacV1().Roles(ns).Create(context.Background(), &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return tokenKubeconfigFor(t, c, ns, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name})
}

// The rolling and rollback scenarios with nothing but examples/rbac.yaml's Role.
func TestLeastPrivilegeRole(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	kc := string(rbacKubeconfig(t, c, ns, ""))
	with := func(in map[string]string) map[string]string { in["kubeconfig"] = kc; return in }
	// kwok serves these as the crashed container's logs (set up first: kwok picks it up async)
	if err := c.SetContainerLogs(context.Background(), ns, nil, []string{"panic: boom"}); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1.0.0", "1.1.0"} {
		if r := runAction(t, with(deployInputs(c, ns, tag))); r.Outputs["status"] != "succeeded" {
			t.Fatalf("deploy %s with the Role: %v\n%s", tag, r.Outputs, r.Stdout)
		}
	}
	r := runAction(t, with(deployInputs(c, ns, "1.2.0-crashloop")))
	want(t, "bad deploy status", r.Outputs["status"], "rolled-back")
	if !strings.Contains(r.Outputs["diagnosis"], "panic: boom") {
		t.Errorf("the Role cannot read the crashed container's logs: %s", r.Outputs["diagnosis"])
	}
	r = runAction(t, with(rollbackInputs(c, ns, "reason", "least privilege")))
	want(t, "rollback status", r.Outputs["status"], "rolled-back")
	r = runAction(t, with(map[string]string{"mode": "history", "release": "web", "namespace": ns}))
	want(t, "history status", r.Outputs["status"], "succeeded")
	serving(t, c, ns, "1.0.0")
}

// A missing permission gives a clear error naming it, and nothing is written.
func TestMissingPermissionIsNamed(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	in := deployInputs(c, ns, "1.0.0")
	in["kubeconfig"] = string(rbacKubeconfig(t, c, ns, "leases"))
	r := runAction(t, in)
	if r.Exit == 0 {
		t.Fatalf("exit 0 without the leases permission:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "missing permission") || !strings.Contains(r.Stdout, `cannot get resource \"leases\"`) && !strings.Contains(r.Stdout, `cannot get resource "leases"`) {
		t.Errorf("the error does not name the missing permission:\n%s", r.Stdout)
	}
	noWrites(t, c, ns)
}
