//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// install deploys the example chart at tag through the action and requires success.
func install(t *testing.T, c *testcluster.Cluster, ns, tag string, extra ...string) actionRun {
	t.Helper()
	r := runAction(t, deployInputs(c, ns, tag, extra...))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("deploy %s: exit %d, outputs %v\n%s", tag, r.Exit, r.Outputs, r.Stdout)
	}
	return r
}

func want(t *testing.T, what string, got, wantv any) {
	t.Helper()
	if got != wantv {
		t.Errorf("%s = %v, want %v", what, got, wantv)
	}
}

func wantHistory(t *testing.T, c *testcluster.Cluster, ns string, wantv ...string) {
	t.Helper()
	got := history(t, c, ns, "web")
	if strings.Join(got, " ") != strings.Join(wantv, " ") {
		t.Errorf("helm history = %v, want %v", got, wantv)
	}
}

func diagnosisOf(t *testing.T, r actionRun) diagnose.Diagnosis {
	t.Helper()
	var d diagnose.Diagnosis
	if err := json.Unmarshal([]byte(r.Outputs["diagnosis"]), &d); err != nil {
		t.Fatalf("diagnosis output is not JSON: %v: %q", err, r.Outputs["diagnosis"])
	}
	return d
}

func healthServer(t *testing.T, healthy bool) string {
	return healthServerFunc(t, func() bool { return healthy })
}

// healthServerFunc serves /api/health, healthy while healthy() says so.
func healthServerFunc(t *testing.T, healthy func() bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if healthy() {
			w.Write([]byte(`{"status":"healthy","database":"connected"}`))
			return
		}
		w.Write([]byte(`{"status":"degraded","database":"disconnected"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/health"
}

func TestActionGoodUpgrade(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	first := install(t, c, ns, "1.0.0")
	want(t, "first install revision", first.Outputs["revision"], "1")
	want(t, "first install previous_revision", first.Outputs["previous_revision"], "")

	r := install(t, c, ns, "1.1.0", "health_url", healthServer(t, true))
	want(t, "revision", r.Outputs["revision"], "2")
	want(t, "previous_revision", r.Outputs["previous_revision"], "1")
	want(t, "failure_reason", r.Outputs["failure_reason"], "")
	for _, s := range []string{"Shepherd: `web` ✅ deployed", "| Revision before | 1 |", "| Revision deployed | 2 |", "### Timeline", "answered healthy", "rollout complete"} {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, r.Summary)
		}
	}
	if strings.Contains(r.Stdout, "::error") {
		t.Errorf("a good upgrade printed an error annotation:\n%s", r.Stdout)
	}
	wantHistory(t, c, ns, "1:superseded", "2:deployed")
	serving(t, c, ns, "1.1.0")
}

// failedUpgrade installs 1.0.0, deploys tag, and checks the common shape of a rolled-back run.
func failedUpgrade(t *testing.T, c *testcluster.Cluster, ns, tag string, reason diagnose.Category, extra ...string) (actionRun, diagnose.Diagnosis) {
	t.Helper()
	install(t, c, ns, "1.0.0")
	r := runAction(t, deployInputs(c, ns, tag, extra...))
	if r.Exit == 0 {
		t.Fatalf("a bad release exited 0:\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "failure_reason", r.Outputs["failure_reason"], string(reason))
	want(t, "revision", r.Outputs["revision"], "2")
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	if !strings.Contains(r.Stdout, "::error title=Shepherd%3A rolled-back ("+string(reason)+")::revision 2 failed") {
		t.Errorf("no one-line ::error annotation with the reason:\n%s", r.Stdout)
	}
	for _, s := range []string{"↩️ rolled back", "| Rolled back to | revision 1 (now serving as revision 3) |", "### Diagnosis", "**Hint:**"} {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("summary lacks %q:\n%s", s, r.Summary)
		}
	}
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
	serving(t, c, ns, "1.0.0")
	d := diagnosisOf(t, r)
	want(t, "diagnosis category", d.Category, reason)
	return r, d
}

func TestActionBadImageRollsBack(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	_, d := failedUpgrade(t, c, ns, "1.1.0-bad-image", diagnose.ImagePull)
	if len(d.Pods) == 0 || d.Pods[0].Containers[0].Reason != "ImagePullBackOff" {
		t.Errorf("diagnosis lacks the ImagePullBackOff pod: %+v", d.Pods)
	}
	if !strings.Contains(d.Hint, "does not exist") {
		t.Errorf("hint %q does not say the tag does not exist", d.Hint)
	}
}

func TestActionCrashLoopRollsBackWithLogs(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	if err := c.SetContainerLogs(context.Background(), ns, []string{"starting"}, []string{
		"example-app starting on :8080", "panic: DATABASE_URL is not set"}); err != nil {
		t.Fatal(err)
	}
	r, d := failedUpgrade(t, c, ns, "1.1.0-crashloop", diagnose.CrashLoop)
	var logs []string
	for _, p := range d.Pods {
		for _, ct := range p.Containers {
			logs = append(logs, ct.PreviousLogs...)
		}
	}
	if !strings.Contains(strings.Join(logs, "\n"), "panic: DATABASE_URL is not set") {
		t.Errorf("diagnosis lacks the previous container's log lines: %+v", d.Pods)
	}
	if !strings.Contains(r.Summary, "panic: DATABASE_URL is not set") {
		t.Errorf("summary lacks the log lines:\n%s", r.Summary)
	}
}

func TestActionNeverReadyRollsBack(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	failedUpgrade(t, c, ns, "1.1.0-never-ready", diagnose.Probe)
}

func TestActionUnschedulableRollsBack(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	_, d := failedUpgrade(t, c, ns, "1.1.0", diagnose.Capacity, "set", "resources.requests.cpu=64")
	if !strings.Contains(d.Summary+d.Hint, "nsufficient cpu") && !strings.Contains(d.Hint, "No node has room") {
		t.Errorf("capacity diagnosis does not name the shortage: %q / %q", d.Summary, d.Hint)
	}
}

func TestActionQuotaRollsBack(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	install(t, c, ns, "1.0.0")
	// 3 pods run; the surge pod of the next rollout is the 4th and the quota refuses it.
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")}}}
	if _, err := c.Client.CoreV1().ResourceQuotas(ns).Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "quota status", func(ctx context.Context) (bool, string, error) {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "pods", metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) > 0, "", nil
	})
	// keep_capacity would refuse this before any write (TestKeepCapacityWithAQuotaAtExactlyN):
	// without it the chart's own surge meets the quota in the rollout, as in a cluster where
	// the quota tightened after pre-flight.
	r := runAction(t, deployInputs(c, ns, "1.1.0", "keep_capacity", "false"))
	if r.Outputs["status"] != "rolled-back" {
		t.Logf("the run's log:\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "failure_reason", r.Outputs["failure_reason"], "capacity")
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	if !strings.Contains(r.Outputs["diagnosis"], "exceeded quota") {
		t.Errorf("diagnosis does not show the quota refusal: %s", r.Outputs["diagnosis"])
	}
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
	serving(t, c, ns, "1.0.0")
}

// The rollout of 1.1.0 completes but the service it runs answers unhealthy; 1.0.0 answers
// healthy (the endpoint stands in for the app: it looks at what the cluster runs).
func TestActionHealthCheckFailureRollsBack(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	url := healthServerFunc(t, func() bool {
		d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
		return err == nil && strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":1.0.0")
	})
	failedUpgrade(t, c, ns, "1.1.0", diagnose.HealthCheck, "health_url", url)
}

func TestActionMissingSecretFailsPreflight(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := runAction(t, deployInputs(c, ns, "1.0.0", "set", "secretEnv[0].name=DATABASE_URL\nsecretEnv[0].secret=app-db\nsecretEnv[0].key=url"))
	if r.Exit == 0 {
		t.Fatalf("exit 0:\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "failed")
	want(t, "failure_reason", r.Outputs["failure_reason"], "config")
	// The Secret's name came as the value of a secret-looking key (secretEnv[0].secret), so it is
	// masked wherever the outcome goes; the error still names what needs it.
	if !strings.Contains(r.Stdout, `Secret "***" does not exist (needed by Deployment/web container example-app env DATABASE_URL)`) {
		t.Errorf("the error does not say which Secret reference is missing:\n%s", r.Stdout)
	}
	if strings.Contains(actionrun.Unmasked(r.Stdout), "app-db") {
		t.Errorf("the value of a secret-looking set key is quoted:\n%s", r.Stdout)
	}
	noWrites(t, c, ns)
}

// noWrites asserts nothing of the release exists in ns: no Helm release Secret, no workload.
func noWrites(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	ctx := context.Background()
	secrets, err := c.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	deps, _ := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	svcs, _ := c.Client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if len(secrets.Items)+len(deps.Items)+len(svcs.Items) > 0 {
		t.Errorf("something was written: %d helm secrets, %d deployments, %d services", len(secrets.Items), len(deps.Items), len(svcs.Items))
	}
}

// The revision before the current one failed too (a `helm upgrade --wait` that timed out):
// the rollback must skip it and go to the last revision that was deployed successfully.
func TestActionRollbackSkipsFailedRevision(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	if err := helmUpgrade(t, c, ns, "1.1.0-crashloop", 3*time.Second); err == nil {
		t.Fatal("helm upgrade --wait of a crash-looping release succeeded")
	}
	// a failed helm upgrade --wait leaves the previous revision deployed
	wantHistory(t, c, ns, "1:deployed", "2:failed")

	r := runAction(t, deployInputs(c, ns, "1.2.0-bad-image"))
	want(t, "status", r.Outputs["status"], "rolled-back")
	want(t, "revision", r.Outputs["revision"], "3")
	want(t, "previous_revision", r.Outputs["previous_revision"], "2")
	want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:failed", "4:deployed")
	serving(t, c, ns, "1.0.0")
}

func TestActionFirstInstallFailureHasNothingToRollBackTo(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := runAction(t, deployInputs(c, ns, "1.0.0-bad-image"))
	want(t, "status", r.Outputs["status"], "failed")
	want(t, "failure_reason", r.Outputs["failure_reason"], "image-pull")
	if !strings.Contains(r.Stdout, "no earlier good revision") {
		t.Errorf("does not say there is nothing to roll back to:\n%s", r.Stdout)
	}
	wantHistory(t, c, ns, "1:failed")
}

func TestActionDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	lease := func() string {
		l, err := c.Client.CoordinationV1().Leases(ns).Get(context.Background(), "shepherd-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.ResourceVersion
	}
	before := lease()
	r := runAction(t, deployInputs(c, ns, "1.1.0", "dry_run", "true"))
	if lease() != before {
		t.Error("a dry run wrote the release lock")
	}
	want(t, "exit", r.Exit, 0)
	want(t, "status", r.Outputs["status"], "dry-run")
	for _, s := range []string{"```diff", "- ", "+ ", "1.1.0"} {
		if !strings.Contains(r.Summary, s) {
			t.Errorf("dry-run summary lacks %q:\n%s", s, r.Summary)
		}
	}
	wantHistory(t, c, ns, "1:deployed")
	serving(t, c, ns, "1.0.0")
}
