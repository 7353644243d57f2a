//go:build e2e

package dataplane

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A first install goes live on blue; the next version is deployed as green beside it, smoke
// tested through a port-forward, switched to, watched, and blue goes to 0 — traffic (the
// Services' EndpointSlices) moves from blue to green in one step, never to both.
func TestBlueGreenDeploySwitchesTraffic(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := bgDeploy(t, c, ns, "1.0.0", "blue")
	contains(t, "the log", r.Stdout, "GET /api/health on pod web-blue-")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	routesTo(t, c, ns, "web-preview", "blue@1.0.0")

	log := watchRoutes(c, ns, "web")
	r = bgDeploy(t, c, ns, "2.0.0", "green")
	seen := log.Stop()
	routesTo(t, c, ns, "web", "green@2.0.0")
	if strings.Join(seen, " ") != "blue@1.0.0 green@2.0.0" {
		t.Errorf("Service web routed to %v during the deploy, want blue@1.0.0 then green@2.0.0, never both", seen)
	}
	scaledDown(t, c, ns, "web-blue")
	wantOut(t, r, "revision", "2")
	contains(t, "the summary", r.Summary, "| Live colour | `green` |")
	if h := helmHistory(t, c, ns); h != "1:superseded 2:deployed" {
		t.Errorf("helm history = %s", h)
	}
	// The next one goes to blue again, scaled back up by Helm.
	bgDeploy(t, c, ns, "3.0.0", "blue")
	routesTo(t, c, ns, "web", "blue@3.0.0")
	scaledDown(t, c, ns, "web-green")
}

// A new colour that fails its smoke test never takes live traffic: it goes to 0, the run says
// rolled-back with failure_reason health-check and the evidence (path, code, body).
func TestBlueGreenSmokeFailureNeverTouchesLiveTraffic(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	log := watchRoutes(c, ns, "web")
	r := runAction(t, bgInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.FAIL_RATE=1", "smoke_paths", "/api/health\n/api/hello", "smoke_timeout", "3s"))
	seen := log.Stop()
	if r.Exit == 0 {
		t.Fatalf("exit 0 for a colour failing its smoke test\n%s", r.Stdout)
	}
	wantOut(t, r, "status", "rolled-back")
	wantOut(t, r, "failure_reason", "health-check")
	wantOut(t, r, "active_color", "blue")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "GET /api/hello")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "HTTP 500")
	contains(t, "the summary", r.Summary, "before taking any traffic")
	if strings.Join(seen, " ") != "blue@1.0.0" {
		t.Errorf("Service web routed to %v during the failed deploy, want blue@1.0.0 only", seen)
	}
	scaledDown(t, c, ns, "web-green")
	if h := helmHistory(t, c, ns); h != "1:deployed 2:failed" {
		t.Errorf("helm history = %s, want the failed colour's revision marked failed", h)
	}
}

// A colour that never starts is caught by the same fail-fast watcher as a rolling deploy.
func TestBlueGreenBadImageNeverTakesTraffic(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")
	r := runAction(t, bgInputs(c, ns, "bad-image"))
	wantOut(t, r, "status", "rolled-back")
	wantOut(t, r, "failure_reason", "image-pull")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	scaledDown(t, c, ns, "web-green")
}

// auto_promote false stops before the switch: live on blue, the preview on green; promote
// switches; a second promote has nothing to do.
func TestBlueGreenGateThenPromote(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")
	r := runAction(t, bgInputs(c, ns, "2.0.0", "auto_promote", "false"))
	if r.Exit != 0 {
		t.Fatalf("a deploy stopped at the gate exited %d\n%s", r.Exit, r.Stdout)
	}
	wantOut(t, r, "status", "awaiting-promotion")
	wantOut(t, r, "active_color", "blue")
	contains(t, "the summary", r.Summary, "mode: promote")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	routesTo(t, c, ns, "web-preview", "green@2.0.0")
	if p := leasePhase(c, ns); p != "awaiting-promotion" {
		t.Errorf("Lease phase %q, want awaiting-promotion", p)
	}
	// A run that changes nothing (a bad chart path) does not lose the gate.
	if bad := runAction(t, bgInputs(c, ns, "2.0.1", "chart", "/nonexistent")); bad.Exit == 0 {
		t.Fatalf("a deploy of a missing chart succeeded")
	}
	pr := runAction(t, map[string]string{"mode": "promote", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig), "grace_period": "1s"})
	if pr.Exit != 0 {
		t.Fatalf("promote: exit %d\n%s", pr.Exit, pr.Stdout)
	}
	wantOut(t, pr, "status", "succeeded")
	wantOut(t, pr, "active_color", "green")
	routesTo(t, c, ns, "web", "green@2.0.0")
	scaledDown(t, c, ns, "web-blue")
	again := runAction(t, map[string]string{"mode": "promote", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig)})
	if again.Exit == 0 {
		t.Errorf("a second promote succeeded")
	}
	contains(t, "the second promote", again.Stdout, "awaits promotion")
}

// mode abort drops what awaits promotion: its colour to 0, live traffic never moved.
func TestBlueGreenGateThenAbort(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")
	if r := runAction(t, bgInputs(c, ns, "2.0.0", "auto_promote", "false")); r.Outputs["status"] != "awaiting-promotion" {
		t.Fatalf("gate: %v\n%s", r.Outputs, r.Stdout)
	}
	r := runAction(t, map[string]string{"mode": "abort", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig), "reason": "wrong build"})
	if r.Exit != 0 {
		t.Fatalf("abort: exit %d\n%s", r.Exit, r.Stdout)
	}
	wantOut(t, r, "status", "aborted")
	wantOut(t, r, "active_color", "blue")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	scaledDown(t, c, ns, "web-green")
	if d := description(t, c, ns, 2); !strings.Contains(d, "wrong build") {
		t.Errorf("revision 2's description %q does not record the reason", d)
	}
}

// mode rollback on a blue-green release is a switch: the old colour (at 0 after the grace
// period) is scaled up, watched, and takes the traffic back.
func TestBlueGreenRollbackIsASwitch(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")
	bgDeploy(t, c, ns, "2.0.0", "green")
	r := runAction(t, map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig),
		"reason": "checkout errors", "verify_duration": "1s"})
	if r.Exit != 0 {
		t.Fatalf("rollback: exit %d\n%s", r.Exit, r.Stdout)
	}
	wantOut(t, r, "status", "rolled-back")
	wantOut(t, r, "active_color", "blue")
	wantOut(t, r, "rollback_revision", "1")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	scaledDown(t, c, ns, "web-green")
	if d := description(t, c, ns, 2); !strings.Contains(d, "checkout errors") {
		t.Errorf("revision 2's description %q does not record the reason", d)
	}
	if h := helmHistory(t, c, ns); h != "1:deployed 2:failed" {
		t.Errorf("helm history = %s, want blue's revision deployed again, green's failed", h)
	}
	// Nothing good is left on green: a second rollback says so and changes nothing.
	again := runAction(t, map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig)})
	if again.Exit == 0 {
		t.Errorf("a rollback to a failed colour succeeded")
	}
	routesTo(t, c, ns, "web", "blue@1.0.0")
}

// A rollback while another run is in its grace period does not queue behind the lock: it
// switches back at once; the other run notices, scales its colour down and says who did it.
func TestBlueGreenRollbackDuringGraceDoesNotWait(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")
	done := make(chan actionrun.Result, 1)
	go func() { done <- runAction(t, bgInputs(c, ns, "2.0.0", "grace_period", "2m")) }()
	eventually(t, time.Minute, "the deploy's grace period", func(context.Context) (bool, string) {
		p := leasePhase(c, ns)
		return p == "switched", "phase " + p
	})
	routesTo(t, c, ns, "web", "green@2.0.0")
	start := time.Now()
	rb := runAction(t, map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig),
		"reason": "p99 doubled"}, "GITHUB_RUN_ID=77")
	took := time.Since(start)
	if rb.Exit != 0 {
		t.Fatalf("rollback: exit %d\n%s", rb.Exit, rb.Stdout)
	}
	wantOut(t, rb, "status", "rolled-back")
	wantOut(t, rb, "active_color", "blue")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	t.Logf("the rollback run took %s (the other run held the lock)", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("the rollback took %s: it waited for the lock", took)
	}
	var r actionrun.Result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the deploy in its grace period did not notice the switch back within 30s")
	}
	wantOut(t, r, "status", "rolled-back")
	contains(t, "the deploy's message", r.Summary, "switched back to blue by https://github.com/acme/web/actions/runs/77")
	contains(t, "the deploy's message", r.Summary, "p99 doubled")
	scaledDown(t, c, ns, "web-green")
	routesTo(t, c, ns, "web", "blue@1.0.0")
}

// Changing strategy on an existing release is refused before any write, saying how to migrate.
func TestStrategyChangeIsRefusedBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	rolling := bgInputs(c, ns, "1.0.0", "strategy", "rolling")
	if r := runAction(t, rolling); r.Exit != 0 {
		t.Fatalf("rolling install: %d\n%s", r.Exit, r.Stdout)
	}
	r := runAction(t, bgInputs(c, ns, "2.0.0"))
	if r.Exit == 0 {
		t.Fatal("rolling → blue-green was accepted")
	}
	contains(t, "the refusal", r.Stdout, "strategy: release web was deployed with strategy rolling")
	contains(t, "the refusal", r.Stdout, "To migrate")
	if h := helmHistory(t, c, ns); h != "1:deployed" {
		t.Errorf("helm history = %s after a refusal", h)
	}
	routesTo(t, c, ns, "web", "@1.0.0")

	ns2 := c.NewNamespace(t)
	bgDeploy(t, c, ns2, "1.0.0", "blue")
	r = runAction(t, bgInputs(c, ns2, "2.0.0", "strategy", "rolling"))
	if r.Exit == 0 {
		t.Fatal("blue-green → rolling was accepted")
	}
	contains(t, "the refusal", r.Stdout, "runs blue-green")
	if h := helmHistory(t, c, ns2); h != "1:deployed" {
		t.Errorf("helm history = %s after a refusal", h)
	}
	routesTo(t, c, ns2, "web", "blue@1.0.0")
}

// Bad blue-green inputs are refused naming the input, before anything is written.
func TestBlueGreenBadInputs(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := runAction(t, bgInputs(c, ns, "1.0.0", "grace_period", "soon", "smoke_paths", "api/health", "auto_promote", "maybe"))
	if r.Exit == 0 {
		t.Fatal("bad inputs accepted")
	}
	for _, want := range []string{`grace_period: "soon" is not a duration`, `smoke_paths: "api/health" is not a path`, `auto_promote: "maybe" is not a boolean`} {
		contains(t, "the error", r.Stdout, want)
	}
	if h := helmHistory(t, c, ns); h != "" {
		t.Errorf("helm history = %s after bad inputs", h)
	}
}

// SIGTERM in the grace period switches traffic back to the colour that served before; a run
// killed before its switch leaves its phase, and the next run scales the unchecked colour down.
func TestBlueGreenCancelSafe(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bgDeploy(t, c, ns, "1.0.0", "blue")

	cmd := exec.Command(actionrun.Binary(t))
	go func() {
		for leasePhase(c, ns) != "switched" {
			time.Sleep(100 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}()
	r := actionrun.RunCmd(t, cmd, bgInputs(c, ns, "2.0.0", "grace_period", "2m"))
	wantOut(t, r, "status", "rolled-back")
	wantOut(t, r, "active_color", "blue")
	routesTo(t, c, ns, "web", "blue@1.0.0")
	if p := leasePhase(c, ns); p != "done" {
		t.Errorf("Lease phase %q after a cancelled deploy, want done", p)
	}

	// Killed outright while the new colour rolls out: its phase stays on the Lease.
	kill := exec.Command(actionrun.Binary(t))
	go func() {
		for leasePhase(c, ns) != "deploying" {
			time.Sleep(50 * time.Millisecond)
		}
		_ = kill.Process.Kill()
	}()
	actionrun.RunCmd(t, kill, bgInputs(c, ns, "3.0.0"))
	routesTo(t, c, ns, "web", "blue@1.0.0")
	next := runAction(t, bgInputs(c, ns, "4.0.0"))
	if next.Exit != 0 {
		t.Fatalf("the next deploy: exit %d\n%s", next.Exit, next.Stdout)
	}
	contains(t, "the next run's summary", next.Summary, "never took traffic")
	routesTo(t, c, ns, "web", "green@4.0.0")
}

// A chart whose readiness probe asks over HTTPS with a header (an app that terminates TLS and
// answers its health path only to the probe): the smoke test asks the same way, and the new
// colour goes live.
func TestBlueGreenSmokeSpeaksTheProbesLanguage(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	set := "replicaCount=2\nenv.TLS=self-signed\nenv.REQUIRE_HEADER=X-Probe: shepherd\nreadinessProbe.scheme=HTTPS\n" +
		"readinessProbe.httpHeaders[0].name=X-Probe\nreadinessProbe.httpHeaders[0].value=shepherd"
	bgDeploy(t, c, ns, "1.0.0", "blue", "set", set)
	r := bgDeploy(t, c, ns, "2.0.0", "green", "set", set)
	contains(t, "the smoke test", r.Stdout, "(port-forward, https): HTTP 200")
}
