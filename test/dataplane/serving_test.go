//go:build e2e

package dataplane

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// The paths that end a canary, each with the Service web's ready endpoints sampled every
// 100 ms: whatever ends it, the Service never loses its last ready endpoint, and never has
// fewer than the stable pods that were Ready when the abort began. The stable pods take 4 s
// to become Ready (READY_DELAY_MS), as a real app's do: on instant pods a wrong order is too
// short to see.

// slowStable installs 1.0.0 (2 replicas) whose pods take delay to become Ready.
func slowStable(t *testing.T, delay string) (*testcluster.Cluster, string) {
	t.Helper()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	// A probe budget that waits for slow pods (the chart's default gives up after about 13 s).
	r := runAction(t, canaryInputs(c, ns, "1.0.0", "set", "replicaCount=2\nreadinessProbe.failureThreshold=10\nenv.READY_DELAY_MS="+delay))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("first install: exit %d, outputs %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	tracksRouteTo(t, c, ns, "stable@1.0.0")
	readyEndpoints(t, c, ns, "web", 2)
	return c, ns
}

// atLeast requires the sampler's fewest ready endpoints to be at least want.
func atLeast(t *testing.T, what string, f testcluster.EndpointFigures, want int) {
	t.Helper()
	t.Logf("%s: %s", what, f)
	if f.Samples < 10 {
		t.Fatalf("%s: only %d endpoint samples", what, f.Samples)
	}
	if f.Min < want {
		t.Errorf("%s: Service web had %d ready endpoints at +%.1fs, want at least %d (%s)", what, f.Min, f.MinAt.Seconds(), want, f)
	}
}

// stageReached waits until the Lease records canary stage stage.
func stageReached(c *testcluster.Cluster, ns, stage string) {
	for leasePhase(c, ns) != "deploying" || canaryStage(c, ns) != stage {
		time.Sleep(50 * time.Millisecond)
	}
}

// A canary that fails its analysis at the 100% stage (the stable track at 0) is aborted with
// the stable track back up and Ready before the canary goes.
func TestCanaryAbortAtFullWeightKeepsServing(t *testing.T) {
	t.Parallel()
	c, ns := slowStable(t, "4000")
	s := c.SampleEndpoints(ns, "web")
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.FAIL_RATE=1", "stages", "100", "interval", "30s"))
	atLeast(t, "metric failure at 100%", s.Stop(), 1)
	aborted(t, r, "analysis")
	backOnStable(t, c, ns)
}

// GitHub's cancellation, exactly: SIGINT, SIGTERM 7.5 s later, the kill 2.5 s after that,
// during the 100% stage. With stable pods Ready in 4 s the run puts traffic back within the
// pair and exits rolled back; with pods that take 12 s the kill comes first, the Lease says
// what is left, and the next run finishes it. Either way the Service always has an endpoint.
func TestCanaryGitHubCancellationKeepsServing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		delay    string
		finishes bool
	}{{"4000", true}, {"12000", false}} {
		t.Run("stable Ready in "+tc.delay+"ms", func(t *testing.T) {
			t.Parallel()
			c, ns := slowStable(t, tc.delay)
			s := c.SampleEndpoints(ns, "web")
			cmd := exec.Command(actionrun.Binary(t))
			go func() {
				stageReached(c, ns, "1")
				for { // the stable pods are gone: only the canary serves
					if got, err := trackRouting(context.Background(), c, ns); err == nil && got == "canary@2.0.0" {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				_ = cmd.Process.Signal(os.Interrupt)
				time.Sleep(7500 * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGTERM)
				time.Sleep(2500 * time.Millisecond)
				_ = cmd.Process.Kill()
			}()
			r := actionrun.RunCmd(t, cmd, canaryInputs(c, ns, "2.0.0", "stages", "100", "interval", "2m"))
			if tc.finishes {
				wantOut(t, r, "status", "rolled-back")
				contains(t, "the cancelled run's log", r.Stdout, "cancelled during stage 1")
			} else {
				if r.Outputs["status"] != "" {
					t.Fatalf("the run finished (%s) before the kill; the test needs pods slower than 10 s\n%s", r.Outputs["status"], r.Stdout)
				}
				if p := leasePhase(c, ns); p != "rolling-back" {
					t.Errorf("Lease phase %q after the kill, want rolling-back (the abort recorded before it began)", p)
				}
				next := runAction(t, canaryInputs(c, ns, "", "mode", "rollback", "chart", "", "reason", "the deploy was cancelled"))
				wantOut(t, next, "status", "rolled-back")
			}
			atLeast(t, "GitHub's cancellation at 100%", s.Stop(), 1)
			backOnStable(t, c, ns)
		})
	}
}

// Mode abort of a canary waiting at its gate (50%: one stable pod Ready) keeps that pod
// serving until the stable track is back at full count.
func TestCanaryAbortAtGateKeepsServing(t *testing.T) {
	t.Parallel()
	c, ns := slowStable(t, "4000")
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "auto_promote", "false"))
	wantOut(t, r, "status", "awaiting-promotion")
	s := c.SampleEndpoints(ns, "web")
	a := runAction(t, canaryInputs(c, ns, "", "mode", "abort", "chart", "", "reason", "not today"))
	atLeast(t, "mode abort at the gate", s.Stop(), 2)
	wantOut(t, a, "status", "aborted")
	backOnStable(t, c, ns)
}

// Mode rollback during a canary's stage does not wait for the stages to end: it asks the run
// holding the canary to stop; that run notices within a second, aborts (the stable track back
// and Ready first) and says who stopped it and why; the rollback then reports it done.
func TestCanaryRollbackInterruptsItsStages(t *testing.T) {
	t.Parallel()
	c, ns := slowStable(t, "4000")
	s := c.SampleEndpoints(ns, "web")
	done := make(chan actionrun.Result, 1)
	go func() {
		cmd := exec.Command(actionrun.Binary(t))
		done <- actionrun.RunCmd(t, cmd, canaryInputs(c, ns, "2.0.0", "interval", "2m"))
	}()
	stageReached(c, ns, "1")
	start := time.Now()
	rb := runAction(t, canaryInputs(c, ns, "", "mode", "rollback", "chart", "", "reason", "checkout errors since 2.0.0"), "GITHUB_RUN_ID=43")
	took := time.Since(start)
	wantOut(t, rb, "status", "rolled-back")
	contains(t, "the rollback's log", rb.Stdout, "asked it to abort the canary now")
	if took > time.Minute {
		t.Errorf("the rollback took %s: it waited for the canary's 2m stage instead of interrupting it", took)
	}
	r := <-done
	wantOut(t, r, "status", "rolled-back")
	contains(t, "the canary run's outcome", r.Outputs["diagnosis"]+r.Stdout, "stopped by a rollback (https://github.com/acme/web/actions/runs/43): checkout errors since 2.0.0")
	atLeast(t, "rollback during a canary stage", s.Stop(), 1)
	backOnStable(t, c, ns)
}

// A canary whose Deployment the cluster refuses after Helm wrote its revision (a quota on
// Deployments) is aborted from Helm's record of that revision: no crash, the outputs and the
// summary written, the stable track serving, the Lease done.
func TestCanaryRefusedByAQuotaIsAborted(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "one-deployment"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/deployments.apps": resource.MustParse("1")}}}
	if _, err := c.Client.CoreV1().ResourceQuotas(ns).Create(context.Background(), q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the quota counted", func(ctx context.Context) (bool, string) {
		got, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "one-deployment", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		used := got.Status.Used["count/deployments.apps"]
		return used.Value() == 1, "used " + used.String()
	})
	r := runAction(t, canaryInputs(c, ns, "2.0.0"))
	if r.Exit == 0 || r.Exit == 2 {
		t.Fatalf("exit %d, want 1 (a failed run, not a success or a crash)\n%s", r.Exit, r.Stdout)
	}
	if strings.Contains(r.Stdout, "panic") || strings.Contains(r.Stdout, "goroutine ") {
		t.Fatalf("the run crashed:\n%s", r.Stdout)
	}
	if s := r.Outputs["status"]; s != "rolled-back" && s != "failed" {
		t.Errorf("status %q, want rolled-back or failed", s)
	}
	contains(t, "the log", r.Stdout, "exceeded quota")
	contains(t, "the summary", r.Summary, "web")
	if n := replicas(t, c, ns, "web"); n != 2 || image(t, c, ns, "web") != "1.0.0" {
		t.Errorf("web: %d replicas of %s, want 2 of 1.0.0", n, image(t, c, ns, "web"))
	}
	tracksRouteTo(t, c, ns, "stable@1.0.0")
	if p := leasePhase(c, ns); p != "done" {
		t.Errorf("Lease phase %q, want done", p)
	}
}

// A blue-green rollback killed while the colour it goes back to scales up from zero is
// finished by the next run as the first would have: that colour Ready first, then the switch;
// the Service never selects a colour with no ready pod.
func TestBlueGreenInterruptedRollbackIsFinishedReadyFirst(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue", "set", "replicaCount=2\nreadinessProbe.failureThreshold=10\nenv.READY_DELAY_MS=9000")
	bgDeploy(t, c, ns, "2.0.0", "green")
	scaledDown(t, c, ns, "web-blue")
	rollback := map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig),
		"reason": "green misbehaves", "timeout": "60s"}
	s := c.SampleEndpoints(ns, "web")
	kill := exec.Command(actionrun.Binary(t))
	go func() {
		for leasePhase(c, ns) != "rolling-back" {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // blue is scaling up, far from Ready
		_ = kill.Process.Kill()
	}()
	actionrun.RunCmd(t, kill, rollback, "GITHUB_RUN_ID=51")
	if replicas(t, c, ns, "web-blue") == 0 {
		t.Fatal("the killed rollback had not started scaling blue up")
	}
	next := runAction(t, rollback, "GITHUB_RUN_ID=51") // a re-run: the same run, its killed process provably dead
	wantOut(t, next, "status", "rolled-back")
	wantOut(t, next, "active_color", "blue")
	eventually(t, 30*time.Second, "web routing to blue", func(ctx context.Context) (bool, string) {
		got, err := routed(ctx, c, ns, "web")
		return err == nil && got == "blue@1.0.0", "routes to " + got
	})
	atLeast(t, "finishing an interrupted blue-green rollback", s.Stop(), 1) // until blue serves
}

// A run killed as its promotion begins (the stable track at 0 at the 100% stage, its Helm
// upgrade under way) is finished by the next run without emptying the Service: the stable
// track is brought to its count and Ready before the canary goes.
func TestCanaryInterruptedPromotionKeepsServing(t *testing.T) {
	t.Parallel()
	c, ns := slowStable(t, "4000")
	s := c.SampleEndpoints(ns, "web")
	kill := exec.Command(actionrun.Binary(t))
	go func() {
		for {
			st, err := kube.Peek(context.Background(), c.Client, ns, "web")
			if err == nil && st != nil && st.Notes[canary.NotePromoting] != "" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = kill.Process.Kill()
	}()
	actionrun.RunCmd(t, kill, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.READY_DELAY_MS=4000", "stages", "100", "interval", "2s"))
	next := runAction(t, canaryInputs(c, ns, "", "mode", "rollback", "chart", "", "reason", "the promotion was interrupted", "verify_duration", "2s"), "GITHUB_RUN_ID=61")
	atLeast(t, "finishing an interrupted promotion", s.Stop(), 1)
	if next.Exit != 0 {
		t.Fatalf("the next run: exit %d\n%s", next.Exit, next.Stdout)
	}
	if n := replicas(t, c, ns, "web"); n != 2 {
		t.Errorf("web has %d replicas, want 2", n)
	}
	eventually(t, 30*time.Second, "web serving from its stable track only", func(ctx context.Context) (bool, string) {
		got, err := trackRouting(ctx, c, ns)
		return err == nil && strings.HasPrefix(got, "stable@") && !strings.Contains(got, "canary"), "routes to " + got
	})
}
