package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// abortBench is what the abort scenario measured: a canary failing half its requests at 10%
// of the traffic through the local gateway, aborted on its metrics, from the judge's decision to
// the last request the canary answered through the gateway — by replica split (the route sends
// to the chart's Service) and by exact weight (traffic_router gateway-api), in one process.
type abortBench struct {
	// ReplicasSeconds and GatewaySeconds: decision → the last request the canary answered.
	ReplicasSeconds float64 `json:"replicas_seconds"`
	GatewaySeconds  float64 `json:"gateway_seconds"`
	// Ratio is replicas over gateway.
	Ratio  float64  `json:"ratio_replicas_over_gateway"`
	Errors []string `json:"errors,omitempty"`
}

func (k *abortBench) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	k.Errors = append(k.Errors, msg)
	progress("abort: ERROR %s", msg)
}

// abortScenario runs both routers' abort against the same chart, 4 replicas, stages 10,100.
func (b *bench) abortScenario(ctx context.Context) *abortBench {
	k := &abortBench{}
	if b.c.Gateway == nil {
		k.errorf("no gateway: the bench runs outside the network namespace")
		return k
	}
	for _, router := range []string{"replicas", "gateway-api"} {
		d, err := b.abortOnce(ctx, router)
		if err != nil {
			k.errorf("%s: %v", router, err)
			return k
		}
		if router == "replicas" {
			k.ReplicasSeconds = secs(d)
		} else {
			k.GatewaySeconds = secs(d)
		}
	}
	if k.GatewaySeconds > 0 {
		k.Ratio = round3(k.ReplicasSeconds / k.GatewaySeconds)
	}
	return k
}

// abortOnce installs 1.0.0 with its HTTPRoute, sends requests through the gateway while an
// erroring canary runs by router, and returns decision → the canary's last answer.
func (b *bench) abortOnce(ctx context.Context, router string) (time.Duration, error) {
	ns, err := b.newNamespace(ctx, "abort-"+router, "shepherd")
	if err != nil {
		return 0, err
	}
	set := "replicaCount=4\nhttpRoute.enabled=true\nhttpRoute.hostnames[0]=" + ns + ".bench\nhttpRoute.parentRefs[0].name=" + b.c.Gateway.Name +
		"\nhttpRoute.parentRefs[0].namespace=" + b.c.Gateway.Namespace
	common := []string{"strategy", "canary", "prometheus_url", b.c.PrometheusURL, "stages", "10,100", "interval", "1m"}
	if r, err := b.runShepherd(ctx, ns, goodTag, "abort-install-"+router, append(common, "set", set)...); err != nil || r.Exit != 0 {
		return 0, fmt.Errorf("install: %v, exit %d (log %s)", err, r.Exit, r.Log)
	}
	bad := append(common, "set", set+"\nenv.FAIL_RATE=0.5")
	if router == "gateway-api" {
		bad = append(bad, "traffic_router", router, "http_route", "web")
	}
	load := b.gatewayLoad(ns)
	r, err := b.runShepherd(ctx, ns, "1.1.0", "abort-canary-"+router, bad...)
	last := load.stop()
	if err != nil || r.Outputs["failure_reason"] != "analysis" {
		return 0, fmt.Errorf("the erroring canary was not stopped on its metrics: %v, outputs %v (log %s)", err, r.Outputs, r.Log)
	}
	raw, _ := os.ReadFile(r.Log)
	m := regexp.MustCompile(`\[\+\s*([0-9.]+)s\][^\n]*the canary failed its analysis`).FindSubmatch(raw)
	if m == nil || last.IsZero() {
		return 0, fmt.Errorf("no decision in the log, or the canary never answered (log %s)", r.Log)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	decided := r.Start.Add(time.Duration(f * float64(time.Second)))
	return last.Sub(decided), nil
}

// load sends requests through the gateway for host <ns>.bench and keeps when the canary (a
// 500, or version 1.1.0) last answered one.
type load struct {
	mu   sync.Mutex
	last time.Time
	done chan struct{}
	wg   sync.WaitGroup
}

func (b *bench) gatewayLoad(ns string) *load {
	l := &load{done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 2; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, b.c.Gateway.URL+"/api/hello", nil)
				req.Host = ns + ".bench"
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				var body struct{ Version string }
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				_ = json.Unmarshal(raw, &body)
				if resp.StatusCode == http.StatusInternalServerError || body.Version == "1.1.0" {
					l.mu.Lock()
					l.last = time.Now()
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

func (l *load) stop() time.Time {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// print writes the abort lines of the report.
func (k *abortBench) print(w io.Writer) {
	if k == nil {
		return
	}
	fmt.Fprintf(w, "\nabort (a canary failing 50%% of /api/hello at 10%%, 4 replicas, through the local gateway):\n")
	fmt.Fprintf(w, "  decision → the canary's last answer: replica split %.2fs, gateway-api %.2fs → %.1f× replicas/gateway\n", k.ReplicasSeconds, k.GatewaySeconds, k.Ratio)
	fmt.Fprintf(w, "  neither anchor publishes this figure; both set the route's weight at once on abort (Argo Rollouts then waits abortScaleDownDelaySeconds, 30 s by default, before scaling the canary down)\n")
	for _, e := range k.Errors {
		fmt.Fprintf(w, "ERROR abort: %s\n", e)
	}
}
