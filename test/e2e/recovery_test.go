//go:build e2e

package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// Another party takes the release's Lease while a run is rolling out: the run's next renewal
// finds it, and the run stops writing at once — no rollback, no phase, no freeing of a lock
// that is not its own — and says so.
func TestLockLostMidRunStopsWriting(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	install(t, c, ns, "1.0.0")
	run := startAction(t, deployInputs(c, ns, "1.1.0-never-ready"))
	run.waitFor("revision 2 applied", 30*time.Second)
	const intruder = "https://github.com/acme/web/actions/runs/999"
	lease, err := c.Client.CoordinationV1().Leases(ns).Get(ctx, "shepherd-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewMicroTime(time.Now())
	lease.Spec.HolderIdentity, lease.Spec.AcquireTime, lease.Spec.RenewTime = ptr.To(intruder), &now, &now
	if _, err := c.Client.CoordinationV1().Leases(ns).Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run.wait(time.Minute)
	if r.Exit == 0 {
		t.Fatalf("a run that lost its lock exited 0:\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "failed")
	if !strings.Contains(r.Stdout, "lost the release lock: "+intruder+" now holds it; stopped writing") {
		t.Errorf("the run does not say it lost the lock, and to whom:\n%s", r.Stdout)
	}
	// It wrote nothing after losing the lock: no rollback revision, revision 2 not marked.
	wantHistory(t, c, ns, "1:superseded", "2:deployed")
	if h, _ := lockHolder(t, c, ns); h != intruder {
		t.Errorf("lock holder after the run: %q, want the intruder's (a lost lock is not freed)", h)
	}
}

// SIGTERM cancels a rollout; while its cleanup waits for the rolled-back pods, a second SIGTERM
// stops the cleanup at once. The lock keeps phase rolling-back (not done), and the next run
// finishes the rollback before its own deploy.
func TestSecondSignalStopsCleanupAndNextRunFinishesIt(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	// Rolled-back pods count as available only 15s after they are Ready: the cleanup's wait.
	install(t, c, ns, "1.0.0", "set", "minReadySeconds=15")
	run := startAction(t, deployInputs(c, ns, "1.1.0-never-ready",
		"set", "minReadySeconds=15\nstrategy.maxSurge=0\nstrategy.maxUnavailable=100%", "keep_capacity", "false"))
	run.waitFor("revision 2 applied", 30*time.Second)
	time.Sleep(time.Second)
	run.signal(syscall.SIGTERM)
	eventually(t, 30*time.Second, "cleanup rolling back", func(context.Context) (bool, string, error) {
		_, p := lockHolder(t, c, ns)
		return p == "rolling-back", p, nil
	})
	time.Sleep(1500 * time.Millisecond)
	run.signal(syscall.SIGTERM)
	r := run.wait(10 * time.Second) // answered at once, not after the 15s wait
	if r.Exit == 0 {
		t.Fatalf("an interrupted cleanup exited 0:\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "failed")
	for _, s := range []string{"stopped by a second interrupt", "keeps phase rolling-back for revision 2"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("the run does not say %q:\n%s", s, r.Stdout)
		}
	}
	if h, p := lockHolder(t, c, ns); h != "" || p != "rolling-back" {
		t.Errorf("lock after the interrupted cleanup: holder %q phase %q, want free and rolling-back", h, p)
	}

	next := runAction(t, deployInputs(c, ns, "1.2.0"))
	want(t, "next status", next.Outputs["status"], "succeeded")
	if !strings.Contains(next.Stdout, "left by the previous run") {
		t.Errorf("the next run does not say it finished the previous run's rollback:\n%s", next.Stdout)
	}
	if next.Outputs["rollback_revision"] != "" || next.Outputs["failure_reason"] != "" {
		t.Errorf("the next run's outputs describe the earlier run: %v", next.Outputs)
	}
	h := strings.Join(history(t, c, ns, "web"), " ")
	if !strings.Contains(h, "2:failed") || !strings.HasSuffix(h, ":deployed") {
		t.Errorf("history %s: want revision 2 failed and the new deploy last", h)
	}
	serving(t, c, ns, "1.2.0")
	if h, p := lockHolder(t, c, ns); h != "" || p != "done" {
		t.Errorf("lock after the next run: holder %q phase %q, want free and done", h, p)
	}
}

// A rollback's attempts are each bounded by the user's timeout: a target that does not roll
// out within it is a failed attempt (named so), and the cascade goes on to the next good one.
func TestRollbackAttemptBoundedByTimeout(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	for _, tag := range []string{"1.1.0-never-ready", "1.2.0"} { // behind Shepherd's back: both "deployed"
		if err := helmUpgrade(t, c, ns, tag, 0); err != nil {
			t.Fatal(err)
		}
	}
	serving(t, c, ns, "1.2.0")
	r := runAction(t, map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "revision": "2",
		"kubeconfig": string(c.Kubeconfig), "timeout": "4s", "max_cascade": "1", "verify_duration": "1s", "reason": "test"})
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	if !strings.Contains(r.Stdout, "not rolled out within timeout 4s") {
		t.Errorf("the first attempt is not said to have passed its timeout:\n%s", r.Stdout)
	}
	serving(t, c, ns, "1.0.0")
}

// An admission policy refuses the rollback (as a Kyverno or Gatekeeper rule might): the run
// fails saying the rollback did not finish, revision 2 is not marked failed while it is still
// what runs, and once the policy is gone the next run finishes the rollback, then deploys.
func TestFailedRollbackIsFinishedByTheNextRun(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	install(t, c, ns, "1.0.0")
	name := "withdraw-1-0-0-" + ns
	policy := &admv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admv1.Fail),
			MatchConstraints: &admv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
				ResourceRules: []admv1.NamedRuleWithOperations{{RuleWithOperations: admv1.RuleWithOperations{
					Operations: []admv1.OperationType{admv1.Update},
					Rule:       admv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}}},
			Validations: []admv1.Validation{{Expression: "!object.spec.template.spec.containers.exists(c, c.image.endsWith(':1.0.0'))",
				Message: "example-app 1.0.0 is withdrawn"}}}}
	binding := &admv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admv1.ValidationAction{admv1.Deny}}}
	adm := c.Client.AdmissionregistrationV1()
	if _, err := adm.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	policyActive(t, c, ns, true)

	r := runAction(t, deployInputs(c, ns, "1.1.0-crashloop"))
	want(t, "status", r.Outputs["status"], "failed")
	for _, s := range []string{"its rollback did not finish", "withdrawn", "the next Shepherd run of web finishes the rollback first"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("the failed run does not say %q:\n%s", s, r.Stdout)
		}
	}
	h := history(t, c, ns, "web")
	if len(h) < 2 || h[1] == "2:failed" {
		t.Errorf("history %v: revision 2 was marked failed while it is still what the cluster runs", h)
	}
	if hold, p := lockHolder(t, c, ns); hold != "" || p != "rolling-back" {
		t.Errorf("lock after the failed rollback: holder %q phase %q, want free and rolling-back", hold, p)
	}

	if err := adm.ValidatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := adm.ValidatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	policyActive(t, c, ns, false)
	next := runAction(t, deployInputs(c, ns, "1.2.0"))
	want(t, "next status", next.Outputs["status"], "succeeded")
	if !strings.Contains(next.Stdout, "finishing its rollback") {
		t.Errorf("the next run does not say it finished the rollback:\n%s", next.Stdout)
	}
	hs := strings.Join(history(t, c, ns, "web"), " ")
	if !strings.Contains(hs, "2:failed") || !strings.HasSuffix(hs, ":deployed") {
		t.Errorf("history %s: want revision 2 failed once replaced, and the new deploy last", hs)
	}
	serving(t, c, ns, "1.2.0")
}

// policyActive waits until a server-side dry-run update of web to 1.0.0 is refused (active) or
// accepted: the API server takes a policy in asynchronously.
func policyActive(t *testing.T, c *testcluster.Cluster, ns string, active bool) {
	t.Helper()
	eventually(t, 30*time.Second, "admission policy active="+map[bool]string{true: "yes", false: "no"}[active], func(ctx context.Context) (bool, string, error) {
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		img := d.Spec.Template.Spec.Containers[0].Image
		patch := `{"spec":{"template":{"spec":{"containers":[{"name":"` + d.Spec.Template.Spec.Containers[0].Name +
			`","image":"` + img[:strings.LastIndex(img, ":")] + `:1.0.0"}]}}}}`
		_, err = c.Client.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		refused := err != nil && strings.Contains(err.Error(), "withdrawn")
		return refused == active, "refused=" + map[bool]string{true: "yes", false: "no"}[refused], nil
	})
}
