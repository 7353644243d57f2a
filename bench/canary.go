package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// canaryBench is what the canary scenario measured: a canary answering half its requests with
// 500, from its first ready endpoint (its first errors) to the Service routing to stable pods
// only, beside the least time the anchors' own analysis loops need for the same stage interval.
type canaryBench struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	// StopSeconds: the canary's first ready endpoint → EndpointSlices on stable pods only.
	StopSeconds float64 `json:"stop_seconds"`
	// RunSeconds: the Shepherd run, start to exit.
	RunSeconds float64 `json:"run_seconds"`
	// The anchors' minimum with their documented settings at the same interval: Flagger
	// rolls back after threshold failed checks, one per interval; Argo Rollouts' analysis
	// fails after failureLimit+1 failed measurements, one per interval.
	FlaggerSeconds float64  `json:"flagger_min_seconds"`
	ArgoSeconds    float64  `json:"argo_min_seconds"`
	FlaggerRatio   float64  `json:"ratio_flagger_over_shepherd"`
	ArgoRatio      float64  `json:"ratio_argo_over_shepherd"`
	Measured       string   `json:"measured,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

// The canary scenario's settings, and the anchors' documented ones.
const (
	canaryInterval   = time.Minute
	flaggerThreshold = 5 // Flagger's docs: analysis.threshold, "max number of failed checks before rollback"
	argoFailureLimit = 0 // Argo Rollouts: AnalysisTemplate metrics[].failureLimit defaults to 0
)

func (k *canaryBench) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	k.Errors = append(k.Errors, msg)
	progress("canary: ERROR %s", msg)
}

// canaryScenario installs 1.0.0 (4 replicas), then runs a canary of a build that fails half
// its requests, with the default stages and a 1m interval, judged on the data plane's
// Prometheus.
func (b *bench) canaryScenario(ctx context.Context) *canaryBench {
	k := &canaryBench{IntervalSeconds: canaryInterval.Seconds(),
		FlaggerSeconds: canaryInterval.Seconds() * flaggerThreshold, ArgoSeconds: canaryInterval.Seconds() * (argoFailureLimit + 1)}
	ns, err := b.newNamespace(ctx, "canary", "shepherd")
	if err != nil {
		k.errorf("%v", err)
		return k
	}
	common := []string{"strategy", "canary", "set", "replicaCount=4", "prometheus_url", b.c.PrometheusURL, "interval", canaryInterval.String()}
	if r, err := b.runShepherd(ctx, ns, goodTag, "canary-install", common...); err != nil || r.Exit != 0 {
		k.errorf("install: %v, exit %d (log %s)", err, r.Exit, r.Log)
		return k
	}
	time.Sleep(3 * time.Second) // Prometheus sees the stable track first
	w, err := b.watchCanary(ctx, ns)
	if err != nil {
		k.errorf("%v", err)
		return k
	}
	bad := append(append([]string(nil), common...), "set", "replicaCount=4\nenv.FAIL_RATE=0.5")
	r, err := b.runShepherd(ctx, ns, "1.1.0", "canary-erroring", bad...)
	first, back := w.times()
	w.stop()
	switch {
	case err != nil:
		k.errorf("%v", err)
	case r.Exit == 0 || r.Outputs["failure_reason"] != "analysis":
		k.errorf("the erroring canary was not stopped on its metrics: exit %d, outputs %v (log %s)", r.Exit, r.Outputs, r.Log)
	case first.IsZero() || back.IsZero():
		k.errorf("the canary never took traffic (%v) or the stable track never took it all back (%v)", first, back)
	default:
		k.StopSeconds = secs(back.Sub(first))
		k.RunSeconds = secs(r.Returned.Sub(r.Start))
		k.FlaggerRatio, k.ArgoRatio = round3(k.FlaggerSeconds/k.StopSeconds), round3(k.ArgoSeconds/k.StopSeconds)
		if d := r.Outputs["diagnosis"]; d != "" {
			if i := strings.Index(d, "error rate "); i >= 0 {
				k.Measured = d[i:]
				if j := strings.Index(k.Measured, " at stage"); j >= 0 {
					k.Measured = k.Measured[:j]
				}
			}
		}
	}
	return k
}

// canaryWatch follows Service web's EndpointSlices: when a canary pod first became a ready
// endpoint, and when after that the endpoints were first stable pods only.
type canaryWatch struct {
	mu          sync.Mutex
	first, back time.Time
	stop        func()
}

func (b *bench) watchCanary(ctx context.Context, ns string) (*canaryWatch, error) {
	w := &canaryWatch{}
	factory := informers.NewSharedInformerFactoryWithOptions(b.c.Client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = discoveryv1.LabelServiceName + "=web" }))
	inf := factory.Discovery().V1().EndpointSlices().Informer()
	see := func(any) {
		now, canary := time.Now(), false
		for _, o := range inf.GetStore().List() {
			for _, e := range o.(*discoveryv1.EndpointSlice).Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready && e.TargetRef != nil && strings.HasPrefix(e.TargetRef.Name, "web-canary-") {
					canary = true
				}
			}
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		switch {
		case canary && w.first.IsZero():
			w.first = now
		case !canary && !w.first.IsZero() && w.back.IsZero():
			w.back = now
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: see, UpdateFunc: func(_, o any) { see(o) }, DeleteFunc: see}); err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(ctx.Done())
	w.stop = func() { close(stop); factory.Shutdown() }
	return w, nil
}

func (w *canaryWatch) times() (first, back time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first, w.back
}

// print writes the canary lines of the report.
func (k *canaryBench) print(w io.Writer) {
	if k == nil {
		return
	}
	fmt.Fprintf(w, "\ncanary (default stages, interval %s, error_threshold 5%%, a build failing 50%% of /api/hello):\n", canaryInterval)
	fmt.Fprintf(w, "  first errors (canary endpoint ready) → stable serving 100%%: %.2fs (the run: %.2fs; %s)\n", k.StopSeconds, k.RunSeconds, k.Measured)
	fmt.Fprintf(w, "  Argo Rollouts' least, interval × (failureLimit %d + 1): %.0fs → %.1f× argo/shepherd\n", argoFailureLimit, k.ArgoSeconds, k.ArgoRatio)
	fmt.Fprintf(w, "  Flagger's least, interval × threshold %d: %.0fs → %.1f× flagger/shepherd\n", flaggerThreshold, k.FlaggerSeconds, k.FlaggerRatio)
	for _, e := range k.Errors {
		fmt.Fprintf(w, "ERROR canary: %s\n", e)
	}
}
