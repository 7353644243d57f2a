package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/shepherd-deploy/shepherd/kube"
)

// blueGreen is what the blue-green scenario measured.
type blueGreen struct {
	// SwitchSeconds: Shepherd's passed smoke test (its log line) → the Service's EndpointSlices
	// list only the new colour's pods.
	SwitchSeconds *float64 `json:"switch_seconds,omitempty"`
	SwitchPass    bool     `json:"switch_pass"`
	// WarmRollbackSeconds: a rollback run while the old colour is warm (the deploy's grace
	// period), start to exit; WarmEndpointsSeconds: start to EndpointSlices on the old colour.
	WarmRollbackSeconds  float64 `json:"warm_rollback_seconds"`
	WarmEndpointsSeconds float64 `json:"warm_endpoints_seconds"`
	// ColdRollbackSeconds: a rollback after the grace period (old colour at 0): scale-up,
	// fail-fast watch, switch (verify_duration 0s, as helm has none).
	ColdRollbackSeconds float64 `json:"cold_rollback_seconds"`
	// HelmRollbackSeconds: `helm rollback web 1 --wait` of the same chart, rolling.
	HelmRollbackSeconds float64  `json:"helm_rollback_seconds"`
	Ratio               float64  `json:"ratio_helm_over_warm"`
	RatioPass           bool     `json:"ratio_pass"`
	Errors              []string `json:"errors,omitempty"`
}

// Targets of the blue-green scenario.
const (
	switchSecondsMax     = 1.0
	rollbackRatioMin     = 5.0
	blueGreenGracePeriod = "1s"
)

func (g *blueGreen) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	g.Errors = append(g.Errors, msg)
	progress("blue-green: ERROR %s", msg)
}

// blueGreenScenario deploys 1.0.0 then 1.1.0 blue-green (the switch latency), rolls back while
// blue is warm and again after the grace period, and rolls back the same chart with Helm.
func (b *bench) blueGreenScenario(ctx context.Context) *blueGreen {
	g := &blueGreen{}
	if err := b.blueGreenShepherd(ctx, g); err != nil {
		g.errorf("shepherd: %v", err)
	}
	if ctx.Err() != nil {
		return g
	}
	if err := b.blueGreenHelm(ctx, g); err != nil {
		g.errorf("helm: %v", err)
	}
	if g.HelmRollbackSeconds > 0 && g.WarmRollbackSeconds > 0 {
		g.Ratio = round3(g.HelmRollbackSeconds / g.WarmRollbackSeconds)
		g.RatioPass = g.Ratio >= rollbackRatioMin
	}
	return g
}

func (b *bench) blueGreenShepherd(ctx context.Context, g *blueGreen) error {
	ns, err := b.newNamespace(ctx, "bluegreen", "shepherd")
	if err != nil {
		return err
	}
	deploy := func(tag, color, grace, log string) (commandRun, error) {
		r, err := b.runShepherd(ctx, ns, tag, log, "strategy", "blue-green", "grace_period", grace)
		if err == nil && (r.Exit != 0 || r.Outputs["active_color"] != color) {
			err = fmt.Errorf("deploy %s: exit %d, outputs %v (log %s)", tag, r.Exit, r.Outputs, r.Log)
		}
		return r, err
	}
	if _, err := deploy(goodTag, "blue", blueGreenGracePeriod, "bluegreen-install"); err != nil {
		return err
	}
	// The switch: smoke test passed → EndpointSlices on green.
	routes, err := b.watchRoutes(ctx, ns)
	if err != nil {
		return err
	}
	r, err := deploy("1.1.0", "green", blueGreenGracePeriod, "bluegreen-deploy")
	onGreen := routes.first("green")
	routes.stop()
	if err != nil {
		return err
	}
	smoke, ok := r.Marks[smokeMarker]
	if !ok || onGreen.IsZero() {
		return fmt.Errorf("no smoke-test line (%v) or no switch seen (%v) (log %s)", ok, onGreen, r.Log)
	}
	g.SwitchSeconds = ptr(round3(onGreen.Sub(smoke).Seconds()))
	g.SwitchPass = *g.SwitchSeconds <= switchSecondsMax

	// Cold: green is live, blue at 0 after the grace period.
	rb, err := b.runShepherd(ctx, ns, "", "bluegreen-rollback-cold", "mode", "rollback", "verify_duration", "0s", "reason", "bench")
	if err != nil || rb.Exit != 0 || rb.Outputs["active_color"] != "blue" {
		return fmt.Errorf("cold rollback: %v, exit %d, outputs %v (log %s)", err, rb.Exit, rb.Outputs, rb.Log)
	}
	g.ColdRollbackSeconds = secs(rb.Returned.Sub(rb.Start))

	// Warm: a deploy in its grace period (green live, blue warm), rolled back.
	done := make(chan error, 1)
	go func() {
		_, err := b.runShepherd(ctx, ns, "1.2.0", "bluegreen-deploy-grace", "strategy", "blue-green", "grace_period", "5m")
		done <- err
	}()
	if err := waitPhase(ctx, b, ns, kube.PhaseSwitched, 2*time.Minute); err != nil {
		return err
	}
	routes, err = b.watchRoutes(ctx, ns)
	if err != nil {
		return err
	}
	rb, err = b.runShepherd(ctx, ns, "", "bluegreen-rollback-warm", "mode", "rollback", "reason", "bench")
	onBlue := routes.first("blue")
	routes.stop()
	if err != nil || rb.Exit != 0 || rb.Outputs["active_color"] != "blue" {
		return fmt.Errorf("warm rollback: %v, exit %d, outputs %v (log %s)", err, rb.Exit, rb.Outputs, rb.Log)
	}
	g.WarmRollbackSeconds = secs(rb.Returned.Sub(rb.Start))
	if !onBlue.IsZero() {
		g.WarmEndpointsSeconds = secs(onBlue.Sub(rb.Start))
	}
	return <-done
}

func (b *bench) blueGreenHelm(ctx context.Context, g *blueGreen) error {
	ns, err := b.newNamespace(ctx, "bluegreen", "helm")
	if err != nil {
		return err
	}
	for _, tag := range []string{goodTag, "1.1.0"} {
		r, err := b.runHelm(ctx, ns, tag, false, healthyHelmTimeout, "bluegreen-helm-"+tag)
		if err != nil || r.Exit != 0 {
			return fmt.Errorf("helm upgrade %s: %v, exit %d (log %s)", tag, err, r.Exit, r.Log)
		}
	}
	home := filepath.Join(b.work, "helm-home")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "HELM_DRIVER=secret",
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"), "HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data")}
	r, err := b.runCommand(ctx, 2*healthyHelmTimeout, "bluegreen-helm-rollback", env, b.helm,
		"rollback", "web", "1", "-n", ns, "--wait", "--timeout", healthyHelmTimeout.String(), "--kubeconfig", b.kubeconfigPath)
	if err != nil || r.Exit != 0 {
		return fmt.Errorf("helm rollback: %v, exit %d (log %s)", err, r.Exit, r.Log)
	}
	g.HelmRollbackSeconds = secs(r.Returned.Sub(r.Start))
	return nil
}

// waitPhase waits until the release's Lease records phase.
func waitPhase(ctx context.Context, b *bench, ns string, phase kube.Phase, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if st, err := kube.Peek(ctx, b.c.Client, ns, "web"); err == nil && st != nil && st.Phase == phase {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Lease never recorded phase %s", phase)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// routeWatch follows Service web's EndpointSlices (what kube-proxy routes by) and records when
// its ready endpoints were first all pods of a colour.
type routeWatch struct {
	mu     sync.Mutex
	firsts map[string]time.Time
	stop   func()
}

func (b *bench) watchRoutes(ctx context.Context, ns string) (*routeWatch, error) {
	w := &routeWatch{firsts: map[string]time.Time{}}
	factory := informers.NewSharedInformerFactoryWithOptions(b.c.Client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = discoveryv1.LabelServiceName + "=web" }))
	inf := factory.Discovery().V1().EndpointSlices().Informer()
	see := func(any) {
		now := time.Now()
		colors := map[string]bool{}
		for _, o := range inf.GetStore().List() {
			for _, e := range o.(*discoveryv1.EndpointSlice).Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready && e.TargetRef != nil {
					for _, c := range []string{"blue", "green"} {
						if strings.HasPrefix(e.TargetRef.Name, "web-"+c+"-") {
							colors[c] = true
						}
					}
				}
			}
		}
		if len(colors) == 1 {
			w.mu.Lock()
			for c := range colors {
				if _, ok := w.firsts[c]; !ok {
					w.firsts[c] = now
				}
			}
			w.mu.Unlock()
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: see, UpdateFunc: func(_, o any) { see(o) }, DeleteFunc: see}); err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(ctx.Done())
	w.mu.Lock()
	w.firsts = map[string]time.Time{} // only changes from now on count
	w.mu.Unlock()
	w.stop = func() { close(stop); factory.Shutdown() }
	return w, nil
}

// first is when the Service first routed only to color (zero if it never did).
func (w *routeWatch) first(color string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firsts[color]
}

// print writes the blue-green lines of the report.
func (g *blueGreen) print(w io.Writer) {
	if g == nil {
		return
	}
	fmt.Fprintf(w, "\nblue-green:\n")
	if g.SwitchSeconds != nil {
		fmt.Fprintf(w, "  smoke test passed → EndpointSlices on the new colour: %.3fs  %s\n", *g.SwitchSeconds, verdict(g.SwitchPass, fmt.Sprintf("≤ %gs", switchSecondsMax)))
	}
	fmt.Fprintf(w, "  rollback, old colour warm (grace period): %.2fs (EndpointSlices back at +%.3fs)\n", g.WarmRollbackSeconds, g.WarmEndpointsSeconds)
	fmt.Fprintf(w, "  rollback after the grace period (scale-up, watch, switch): %.2fs\n", g.ColdRollbackSeconds)
	fmt.Fprintf(w, "  helm rollback --wait of the same chart: %.2fs → %.1f× helm/shepherd (warm)  %s\n", g.HelmRollbackSeconds, g.Ratio, verdict(g.RatioPass, fmt.Sprintf("≥ %g×", rollbackRatioMin)))
	for _, e := range g.Errors {
		fmt.Fprintf(w, "ERROR blue-green: %s\n", e)
	}
}
