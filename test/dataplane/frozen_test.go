//go:build e2e

package dataplane

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// etcd stopped (SIGSTOP) for 20 s while a canary holds its first stage, then going on: the run
// ends without a panic, its outcome agrees with what serves, and the next canary deploys at
// once. The test freezes a cluster of its own (with its data plane), so the tests sharing the
// package's cluster never stall with it.
func TestFrozenEtcdDuringACanaryStage(t *testing.T) {
	t.Parallel()
	c := testcluster.Private(t, testcluster.Options{DataPlane: true})
	ns := c.NewNamespace(t)
	stableInstalled(t, c, ns)
	cmd := exec.Command(actionrun.Binary(t))
	froze := make(chan error, 1)
	go func() {
		stageReached(c, ns, "1")
		froze <- c.Freeze("etcd", 20*time.Second)
	}()
	r := actionrun.RunCmd(t, cmd, canaryInputs(c, ns, "2.0.0", "interval", "8s", "prometheus_url", "", "timeout", "90s"))
	if err := <-froze; err != nil {
		t.Fatal(err)
	}
	t.Logf("with etcd frozen for 20 s in a stage: exit %d, status %s", r.Exit, r.Outputs["status"])
	if strings.Contains(r.Stdout, "panic") || strings.Contains(r.Stdout, "goroutine ") {
		t.Errorf("the run panicked:\n%s", r.Stdout)
	}
	switch r.Outputs["status"] {
	case "succeeded":
		tracksRouteTo(t, c, ns, "stable@2.0.0")
	case "rolled-back", "failed":
		backOnStable(t, c, ns)
	default:
		t.Fatalf("status %q after a frozen etcd (the run's log:\n%s)", r.Outputs["status"], r.Stdout)
	}
	next := runAction(t, canaryInputs(c, ns, "3.0.0", "interval", "4s", "prometheus_url", "", "lock_timeout", "5s"))
	if next.Exit != 0 || next.Outputs["status"] != "succeeded" {
		t.Fatalf("the next canary: exit %d %v\n%s", next.Exit, next.Outputs, next.Stdout)
	}
	tracksRouteTo(t, c, ns, "stable@3.0.0")
}

// A canary killed (SIGKILL) while it holds its first stage leaves its work on the Lease; the
// next deploy, on the same host, proves the holder dead and takes the lock at once (a
// lock_timeout of 5 s, well under the 30 s a live-looking lock is waited out), finishes what
// the killed run left and deploys. The Service keeps a ready endpoint throughout.
func TestKilledCanaryNextRunDeploysAtOnce(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	s := c.SampleEndpoints(ns, "web")
	cmd := exec.Command(actionrun.Binary(t))
	go func() {
		stageReached(c, ns, "1")
		_ = cmd.Process.Kill()
	}()
	r := actionrun.RunCmd(t, cmd, canaryInputs(c, ns, "2.0.0", "interval", "1m", "prometheus_url", ""))
	if r.Outputs["status"] != "" {
		t.Fatalf("the run finished (%s) before the kill\n%s", r.Outputs["status"], r.Stdout)
	}
	next := runAction(t, canaryInputs(c, ns, "3.0.0", "interval", "4s", "prometheus_url", "", "lock_timeout", "5s"))
	if next.Exit != 0 || next.Outputs["status"] != "succeeded" {
		t.Fatalf("the next canary: exit %d %v\n%s", next.Exit, next.Outputs, next.Stdout)
	}
	contains(t, "the next run's log", next.Stdout, "took over the lock of an interrupted run")
	tracksRouteTo(t, c, ns, "stable@3.0.0")
	atLeast(t, "a killed canary, then the next deploy", s.Stop(), 1)
}
