//go:build e2e

package dataplane

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// image is Deployment name's image tag.
func image(t *testing.T, c *testcluster.Cluster, ns, name string) string {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := d.Spec.Template.Spec.Containers[0].Image
	return img[strings.LastIndex(img, ":")+1:]
}

// withStable is a namespace of the shared cluster where 1.0.0 is installed (strategy canary).
func withStable(t *testing.T) (*testcluster.Cluster, string) {
	t.Helper()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	stableInstalled(t, c, ns)
	return c, ns
}

// aborted requires the run to have failed as an aborted canary does, for reason.
func aborted(t *testing.T, r actionrun.Result, reason string) {
	t.Helper()
	if r.Exit == 0 {
		t.Fatalf("exit 0 for a canary that should have been aborted\n%s", r.Stdout)
	}
	wantOut(t, r, "status", "rolled-back")
	wantOut(t, r, "failure_reason", reason)
}

// backOnStable requires the canary at 0 and the stable track back at 2 replicas of 1.0.0,
// serving all traffic.
func backOnStable(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	scaledDown(t, c, ns, "web-canary")
	if n := replicas(t, c, ns, "web"); n != 2 {
		t.Errorf("web has %d replicas, want 2 (back to full)", n)
	}
	if tag := image(t, c, ns, "web"); tag != "1.0.0" {
		t.Errorf("web runs %s, want 1.0.0", tag)
	}
	tracksRouteTo(t, c, ns, "stable@1.0.0")
}

// A healthy canary takes its share of real traffic (one pod of two at 50%), passes both stages
// on Prometheus' figures, and is promoted: the stable Deployment runs the new version, the
// canary goes to 0 (kept), helm history shows the canary's revision and the promotion.
func TestCanaryHealthyIsPromoted(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	log := watchTracks(c, ns)
	r := runAction(t, canaryInputs(c, ns, "2.0.0"))
	seen := log.Stop()
	if r.Exit != 0 {
		t.Fatalf("exit %d for a healthy canary\n%s", r.Exit, r.Stdout)
	}
	wantOut(t, r, "status", "succeeded")
	wantOut(t, r, "canary_weight", "100")
	wantOut(t, r, "revision", "3")
	if !strings.Contains(strings.Join(seen, " "), "canary@2.0.0,stable@1.0.0") {
		t.Errorf("traffic never split between the tracks: %v", seen)
	}
	if tag := image(t, c, ns, "web"); tag != "2.0.0" {
		t.Errorf("the stable Deployment runs %s after the promotion, want 2.0.0", tag)
	}
	scaledDown(t, c, ns, "web-canary")
	tracksRouteTo(t, c, ns, "stable@2.0.0")
	if h := helmHistory(t, c, ns); h != "1:superseded 2:superseded 3:deployed" {
		t.Errorf("helm history = %s", h)
	}
	for _, want := range []string{"### Canary stages", "| 1 | 50% | 50% | 1 + 1 |", "| 2 | 100% | 100% | 2 + 0 |", "✅ pass", "xychart-beta", "| Canary weight | 100% |"} {
		contains(t, "the summary", r.Summary, want)
	}
	// The stable track's figures are shown beside the canary's at 50%.
	if strings.Count(r.Summary, "0.00% (0/") < 2 {
		t.Errorf("the stage table does not show both tracks' error rates:\n%s", r.Summary)
	}
}

// A canary answering 500s is aborted as soon as its error rate is significantly above the
// threshold — long before its 60s stage ends — and the stable track serves everything again.
func TestCanaryErroringIsAbortedBeforeItsStageEnds(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.FAIL_RATE=1", "interval", "60s"))
	aborted(t, r, "analysis")
	wantOut(t, r, "canary_weight", "0")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "error rate")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "above the 5% threshold at stage 1/2 (50%)")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "stable track: 0.00%")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "decided after")
	contains(t, "the summary", r.Summary, "❌ fail: error rate")
	backOnStable(t, c, ns)
	if h := helmHistory(t, c, ns); h != "1:deployed 2:failed" {
		t.Errorf("helm history = %s, want the canary's revision failed and the stable one deployed", h)
	}
}

// A canary slower than latency_threshold is aborted on its p99, with both tracks' p99 shown
// (judged on its thresholds alone: against the stable track its latency distribution decides
// first, TestCanarySlowerThanStable).
func TestCanarySlowIsAbortedOnP99(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.LATENCY_MS=300", "interval", "60s", "latency_threshold", "100", "baseline", "none"))
	aborted(t, r, "analysis")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "p99 latency")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "above the 100 ms threshold")
	contains(t, "the summary", r.Summary, "canary p99")
	backOnStable(t, c, ns)
}

// A canary without enough requests in its window, or without a series at all, is not passed:
// no data fails the stage.
func TestCanaryWithoutDataFails(t *testing.T) {
	t.Parallel()
	for name, extra := range map[string][]string{
		"too few requests": {"min_requests", "100000"},
		// A query (a template of the user's) on a metric the app does not export: no series.
		"no series": {"error_rate_query", `sum(rate(checkout_errors_total{namespace="{{ namespace }}",pod=~"{{ pods }}"}[{{ window }}]))`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, ns := withStable(t)
			r := runAction(t, canaryInputs(c, ns, "2.0.0", append([]string{"interval", "4s"}, extra...)...))
			aborted(t, r, "analysis")
			contains(t, "the diagnosis", r.Outputs["diagnosis"], "no data is not a pass")
			contains(t, "the summary", r.Summary, "⚠️ no data")
			backOnStable(t, c, ns)
		})
	}
}

// auto_promote false stops after the last stage below 100%, the canary serving; mode promote
// runs the last stage and promotes.
func TestCanaryGateThenPromote(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "auto_promote", "false"))
	if r.Exit != 0 {
		t.Fatalf("exit %d at the gate\n%s", r.Exit, r.Stdout)
	}
	wantOut(t, r, "status", "awaiting-promotion")
	wantOut(t, r, "canary_weight", "50")
	contains(t, "the message", r.Stdout, "mode: promote")
	if p := leasePhase(c, ns); p != "awaiting-promotion" {
		t.Errorf("lease phase %q, want awaiting-promotion", p)
	}
	tracksRouteTo(t, c, ns, "canary@2.0.0,stable@1.0.0")

	r = runAction(t, canaryInputs(c, ns, "", "mode", "promote", "chart", ""))
	if r.Exit != 0 {
		t.Fatalf("promote: exit %d\n%s", r.Exit, r.Stdout)
	}
	contains(t, "the promotion's log", r.Stdout, "(50% of traffic live on it)") // the router's reading
	wantOut(t, r, "status", "succeeded")
	wantOut(t, r, "canary_weight", "100")
	if tag := image(t, c, ns, "web"); tag != "2.0.0" {
		t.Errorf("web runs %s after promote, want 2.0.0", tag)
	}
	scaledDown(t, c, ns, "web-canary")
	tracksRouteTo(t, c, ns, "stable@2.0.0")
}

// mode abort drops a canary at the gate; mode rollback does the same as a rollback.
func TestCanaryGateThenAbortOrRollback(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"abort", "rollback"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			c, ns := withStable(t)
			if r := runAction(t, canaryInputs(c, ns, "2.0.0", "auto_promote", "false")); r.Outputs["status"] != "awaiting-promotion" {
				t.Fatalf("gate: %v\n%s", r.Outputs, r.Stdout)
			}
			r := runAction(t, canaryInputs(c, ns, "", "mode", mode, "chart", "", "reason", "not today"))
			if r.Exit != 0 {
				t.Fatalf("%s: exit %d\n%s", mode, r.Exit, r.Stdout)
			}
			want := map[string]string{"abort": "aborted", "rollback": "rolled-back"}[mode]
			wantOut(t, r, "status", want)
			contains(t, "the message", r.Stdout, "not today")
			backOnStable(t, c, ns)
			if h := helmHistory(t, c, ns); h != "1:deployed 2:failed" {
				t.Errorf("helm history = %s", h)
			}
		})
	}
}

// Prometheus that does not answer is found in pre-flight, naming prometheus_url: nothing is
// written, and its password is never shown.
func TestCanaryPrometheusDownIsRefusedBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "interval", "60s", "prometheus_url", "http://scraper:s3cret@127.0.0.1:1"))
	wantOut(t, r, "status", "failed")
	contains(t, "the error", r.Stdout, "prometheus_url: prometheus at http://127.0.0.1:1")
	contains(t, "the error", r.Stdout, "(nothing was changed)")
	if !strings.Contains(r.Stdout, "::add-mask::scraper:s3cret") {
		t.Error("the runner was not told to mask prometheus_url's credentials")
	}
	printed := strings.ReplaceAll(r.Stdout, "::add-mask::scraper:s3cret", "")
	printed = strings.ReplaceAll(printed, "::add-mask::s3cret", "")
	if strings.Contains(printed+r.Summary+r.Outputs["diagnosis"], "s3cret") {
		t.Error("the Prometheus password was printed")
	}
	if h := helmHistory(t, c, ns); h != "1:deployed" {
		t.Errorf("helm history = %s, want only the stable revision (nothing written)", h)
	}
}

// A template Prometheus cannot parse is refused in pre-flight, naming its input.
func TestCanaryUnparsableQueryIsRefusedBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "error_rate_query", `sum(rate(http_requests_total{pod=~"{{ pods }}"}[{{ window }}]) /`))
	wantOut(t, r, "status", "failed")
	contains(t, "the error", r.Stdout, "error_rate_query: Prometheus cannot run it")
	if h := helmHistory(t, c, ns); h != "1:deployed" {
		t.Errorf("helm history = %s, want only the stable revision (nothing written)", h)
	}
}

// Prometheus that stops answering during a stage aborts the canary at once, and says which
// Prometheus; at the 100% stage the stable track is Ready before the canary goes.
func TestCanaryPrometheusFailingMidStageAborts(t *testing.T) {
	t.Parallel()
	c, ns := slowStable(t, "4000")
	up, err := url.Parse(c.PrometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(up)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	go func() { stageReached(c, ns, "1"); down.Store(true) }()
	s := c.SampleEndpoints(ns, "web")
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "stages", "100", "interval", "60s", "prometheus_url", srv.URL))
	atLeast(t, "Prometheus failing at 100%", s.Stop(), 1)
	aborted(t, r, "analysis")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "prometheus at "+srv.URL)
	backOnStable(t, c, ns)
}

// Without prometheus_url the canary is judged on pod health only, and the summary says so.
func TestCanaryWithoutPrometheusJudgesPodsOnly(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "prometheus_url", "", "interval", "2s", "stages", "10,100"))
	if r.Exit != 0 {
		t.Fatalf("exit %d\n%s", r.Exit, r.Stdout)
	}
	contains(t, "the summary", r.Summary, "No metrics were analysed")
	// 2 replicas cannot give 10%: one canary pod beside two stable ones is the closest.
	contains(t, "the summary", r.Summary, "| 1 | 10% | 33.3% | 1 + 2 |")
	contains(t, "the summary", r.Summary, "cannot give every weight asked (10% → 33.3%)")
	wantOut(t, r, "canary_weight", "100")
}

// A crash-looping canary is caught by the fail-fast watcher at its first stage, diagnosed with
// its logs, and aborted; failure_reason keeps the pod's category.
func TestCanaryCrashLoopKeepsItsCategory(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.CRASH_ON_START=db unreachable"))
	aborted(t, r, "crash-loop")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "db unreachable")
	backOnStable(t, c, ns)
}

// canaryStage is the canary stage the release's Lease records ("" when none).
func canaryStage(c *testcluster.Cluster, ns string) string {
	st, err := kube.Peek(context.Background(), c.Client, ns, "web")
	if err != nil || st == nil {
		return ""
	}
	return st.Notes[canary.NoteStage]
}

// SIGTERM during a stage aborts the canary before the run exits; a run killed outright during a
// stage leaves its phase on the Lease, and the next run (here a rollback) aborts that canary.
func TestCanaryCancelSafe(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	inStage := func(cmd *exec.Cmd, sig os.Signal) {
		for leasePhase(c, ns) != "deploying" || canaryStage(c, ns) != "1" {
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Signal(sig)
	}

	cmd := exec.Command(actionrun.Binary(t))
	go inStage(cmd, syscall.SIGTERM)
	r := actionrun.RunCmd(t, cmd, canaryInputs(c, ns, "2.0.0", "interval", "2m"))
	wantOut(t, r, "status", "rolled-back")
	contains(t, "the cancelled run's log", r.Stdout, "cancelled during stage 1")
	backOnStable(t, c, ns)
	if p := leasePhase(c, ns); p != "done" {
		t.Errorf("Lease phase %q after a cancelled canary, want done", p)
	}

	kill := exec.Command(actionrun.Binary(t))
	go inStage(kill, os.Kill)
	actionrun.RunCmd(t, kill, canaryInputs(c, ns, "3.0.0", "interval", "2m"))
	if replicas(t, c, ns, "web-canary") == 0 {
		t.Fatal("the killed run's canary is not in flight")
	}
	next := runAction(t, canaryInputs(c, ns, "", "mode", "rollback", "chart", "", "reason", "the deploy died"))
	if next.Exit != 0 {
		t.Fatalf("the rollback after the kill: exit %d\n%s", next.Exit, next.Stdout)
	}
	wantOut(t, next, "status", "rolled-back")
	contains(t, "the rollback's summary", next.Summary, "canary in flight")
	backOnStable(t, c, ns)
	if h := helmHistory(t, c, ns); !strings.HasSuffix(h, "3:failed") || !strings.HasPrefix(h, "1:deployed") {
		t.Errorf("helm history = %s, want both canaries failed and the stable revision deployed", h)
	}
}
