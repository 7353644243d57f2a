//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// Two job containers on one host share its hostname and boot but not their PID namespace:
// the first run's pid means nothing in the second's. The second run starts in a PID namespace
// of its own (unshare -p, as a container runtime does) while the first holds the lock: it must
// not take the lock as if the first were dead, but wait for it and fail naming the holder.
func TestHolderInAnotherPIDNamespaceIsNotDead(t *testing.T) {
	t.Parallel()
	own, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	inner, err := exec.Command("unshare", "-p", "-f", "--mount-proc", "readlink", "/proc/self/ns/pid").Output()
	if err != nil || strings.TrimSpace(string(inner)) == own {
		t.Fatalf("unshare (util-linux) cannot start a process in a PID namespace of its own here (%v, %q): the test needs it", err, inner)
	}
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	first := startAction(t, deployInputs(c, ns, "1.1.0-never-ready"), "GITHUB_RUN_ID=3001")
	first.waitFor("revision 2 applied", 30*time.Second)
	lease, err := c.Client.CoordinationV1().Leases(ns).Get(context.Background(), "shepherd-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := lease.Annotations["shepherd.io/process"]; !strings.HasSuffix(p, "/"+own) {
		t.Errorf("the holder's process record %q does not name its PID namespace %s", p, own)
	}

	cmd := exec.Command("unshare", "-p", "-f", "--mount-proc", shepherdBinary(t))
	second := runActionCmd(t, cmd, deployInputs(c, ns, "1.2.0", "lock_timeout", "5s"), "GITHUB_RUN_ID=3002")
	if second.Exit == 0 || !strings.Contains(second.Stdout, "release web is locked by another run: https://github.com/acme/web/actions/runs/3001") {
		t.Fatalf("a run in another PID namespace took the lock of a live holder (exit %d):\n%s", second.Exit, second.Stdout)
	}
	r := first.wait(2 * time.Minute)
	want(t, "first status", r.Outputs["status"], "rolled-back")
	if strings.Contains(r.Stdout, "lost the release lock") {
		t.Errorf("the first run lost its lock:\n%s", r.Stdout)
	}
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:deployed")
}

// skewedHolder holds the release's Lease from another machine (not provably dead from here)
// and renews it every 2 s with its own clock, which runs behind this one by skew: its renew
// times look skew old here. It stops renewing when the returned function is called.
func skewedHolder(t *testing.T, c *testcluster.Cluster, ns, holder string, skew time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	leases := c.Client.CoordinationV1().Leases(ns)
	renew := func() error {
		le, err := leases.Get(ctx, "shepherd-web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewMicroTime(time.Now().Add(-skew))
		if ptr.Deref(le.Spec.HolderIdentity, "") != holder {
			le.Spec.AcquireTime = &now
			le.Annotations["shepherd.io/process"] = "another-runner/other-boot/7/1/pid:[4026531836]"
			le.Annotations["shepherd.io/phase"] = "starting"
		}
		le.Spec.HolderIdentity, le.Spec.RenewTime, le.Spec.LeaseDurationSeconds = ptr.To(holder), &now, ptr.To[int32](30)
		_, err = leases.Update(ctx, le, metav1.UpdateOptions{})
		return err
	}
	if err := renew(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
				_ = renew()
			}
		}
	}()
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// The lock's holder runs on a machine whose clock is 60 s behind the next run's (the same as
// a next run whose clock runs 60 s ahead): its renewals look a minute old here. The next run
// must not take a Lease that is being renewed; once the holder stops renewing, it takes it
// after LeaseDuration of its own time, not before.
func TestSkewedClockDoesNotTakeARenewedLock(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	const holder = "https://github.com/acme/web/actions/runs/5001 job deploy #a1b2c3d4"
	stop := skewedHolder(t, c, ns, holder, time.Minute)

	second := runAction(t, deployInputs(c, ns, "1.1.0", "lock_timeout", "10s"), "GITHUB_RUN_ID=5002")
	if second.Exit == 0 || !strings.Contains(second.Stdout, "release web is locked by another run: "+holder) {
		t.Fatalf("a run whose clock is 60 s ahead took a lock being renewed (exit %d):\n%s", second.Exit, second.Stdout)
	}
	wantHistory(t, c, ns, "1:deployed")

	stop()
	start := time.Now()
	third := runAction(t, deployInputs(c, ns, "1.1.0", "lock_timeout", "2m"), "GITHUB_RUN_ID=5003")
	want(t, "status once the holder stopped", third.Outputs["status"], "succeeded")
	if d := time.Since(start); d < kube.LeaseDuration {
		t.Errorf("the lock was taken %s after its holder stopped renewing, before LeaseDuration (%s) of the taker's time", d.Round(time.Second), kube.LeaseDuration)
	}
	if !strings.Contains(third.Stdout, "took over the lock of an interrupted run ("+holder) {
		t.Errorf("the run does not say it took over the stopped holder's lock:\n%s", third.Stdout)
	}
}

// A rollback read the lock held by run A and meant to ask A to stop its canary; before it
// wrote, A was gone and run B took the lock for a canary of its own. The request for A is not
// written (the holder changed since it was read), and a request naming A that reaches the
// Lease anyway (written without that check, as an older rollback would) does not stop B. A
// request naming B does.
func TestStopRequestForAnotherHolderDoesNotStopTheNew(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	install(t, c, ns, "1.0.0")
	const holderA = "https://github.com/acme/web/actions/runs/6001 job deploy #0000000a"
	a, err := kube.Acquire(ctx, c.Client, ns, "web", holderA, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx, kube.PhaseDone); err != nil { // A is gone
		t.Fatal(err)
	}

	b := startAction(t, deployInputs(c, ns, "2.0.0", "strategy", "canary", "stages", "25,50,100", "interval", "20s"), "GITHUB_RUN_ID=6002")
	var holderB string
	eventually(t, 60*time.Second, "run B's canary in its stages", func(ctx context.Context) (bool, string, error) {
		st, err := kube.Peek(ctx, c.Client, ns, "web")
		if err != nil || st == nil {
			return false, "no lease", err
		}
		holderB = st.Holder
		return st.Live && st.Phase == kube.PhaseDeploying && canary.Recorded(st.Notes) && canary.StageOf(st.Notes) != "0", st.Holder + " " + string(st.Phase), nil
	})

	err = kube.RequestStop(ctx, c.Client, ns, "web", holderA, "rollback of run 6001", "its canary is bad")
	if !errors.Is(err, kube.ErrHolderChanged) || !strings.Contains(err.Error(), "runs/6002") {
		t.Errorf("a stop request for A after B took the lock = %v, want refused naming B", err)
	}
	if st, _ := kube.Peek(ctx, c.Client, ns, "web"); st.Notes["shepherd.io/stop-requested-by"] != "" {
		t.Fatalf("the request for A was written while B holds the lock: %v", st.Notes)
	}
	if err := kube.Annotate(ctx, c.Client, ns, "web", map[string]string{"shepherd.io/stop-requested-by": "rollback of run 6001",
		"shepherd.io/stop-reason": "its canary is bad", "shepherd.io/stop-requested-for": holderA}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // B looks for a request every second
	if log := b.log(); strings.Contains(log, "stopped by a rollback") {
		t.Fatalf("run B stopped at a request meant for run A:\n%s", log)
	}
	if st, _ := kube.Peek(ctx, c.Client, ns, "web"); st.Holder != holderB || !st.Live {
		t.Fatalf("run B no longer holds the lock: %+v", st)
	}

	if err := kube.RequestStop(ctx, c.Client, ns, "web", holderB, "rollback of run 6002", "its canary is bad too"); err != nil {
		t.Fatalf("a stop request for B: %v", err)
	}
	r := b.wait(2 * time.Minute)
	if !strings.Contains(r.Stdout, "stopped by a rollback (rollback of run 6002): its canary is bad too") {
		t.Errorf("run B did not stop at the request naming it:\n%s", r.Stdout)
	}
	if r.Outputs["status"] == "succeeded" {
		t.Errorf("run B succeeded after a rollback asked it to stop: %v", r.Outputs)
	}
}
