//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A control plane that hangs rather than goes away — the API server or etcd stopped (SIGSTOP)
// for 20 s in the middle of a rolling deploy, then going on — ends the run without a panic,
// with an outcome that agrees with what serves and a release Helm calls deployed; the next run
// deploys at once. The test freezes a cluster of its own, so the tests that share the
// package's cluster never stall with it.
func TestFrozenControlPlaneDuringARollingDeploy(t *testing.T) {
	t.Parallel()
	c := testcluster.Private(t, testcluster.Options{})
	for _, proc := range []string{"kube-apiserver", "etcd"} {
		t.Run(proc, func(t *testing.T) { frozenDuringRollout(t, c, proc) })
	}
}

func frozenDuringRollout(t *testing.T, c *testcluster.Cluster, proc string) {
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	run := startAction(t, deployInputs(c, ns, "1.1.0", "timeout", "90s"))
	run.waitFor("revision 2 applied", 30*time.Second)
	if err := c.Freeze(proc, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	r := run.wait(3 * time.Minute)
	t.Logf("with %s frozen for 20 s: exit %d, status %s", proc, r.Exit, r.Outputs["status"])
	if strings.Contains(r.Stdout, "panic") || strings.Contains(r.Stdout, "goroutine ") {
		t.Errorf("the run panicked:\n%s", r.Stdout)
	}
	switch r.Outputs["status"] {
	case "succeeded":
		serving(t, c, ns, "1.1.0")
	case "rolled-back":
		serving(t, c, ns, "1.0.0")
	default:
		t.Errorf("status %q after a frozen %s, want succeeded or rolled-back (the run's log:\n%s)", r.Outputs["status"], proc, r.Stdout)
	}
	if (r.Exit == 0) != (r.Outputs["status"] == "succeeded") {
		t.Errorf("exit %d with status %s", r.Exit, r.Outputs["status"])
	}
	lastDeployed(t, c, ns)
	// The next run is not held up by anything the frozen one left: no lock to wait out.
	start := time.Now()
	next := runAction(t, deployInputs(c, ns, "1.2.0", "lock_timeout", "5s"))
	if next.Exit != 0 || next.Outputs["status"] != "succeeded" {
		t.Fatalf("the next run: exit %d %v\n%s", next.Exit, next.Outputs, next.Stdout)
	}
	t.Logf("the next run took %s", time.Since(start).Round(100*time.Millisecond))
	serving(t, c, ns, "1.2.0")
	lastDeployed(t, c, ns)
}

// lastDeployed requires the release's newest revision to be the one Helm calls deployed.
func lastDeployed(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	h := history(t, c, ns, "web")
	if len(h) == 0 || !strings.HasSuffix(h[len(h)-1], ":deployed") {
		t.Errorf("helm history %v: the newest revision is not deployed", h)
	}
	if _, err := c.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
		t.Errorf("the cluster does not answer after the freeze: %v", err)
	}
}
