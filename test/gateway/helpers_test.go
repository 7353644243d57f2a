//go:build e2e

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// routedInputs are the inputs of a canary of the example chart, 3 replicas, whose own
// HTTPRoute (host <ns>.example on the shared Gateway) Shepherd weights.
func routedInputs(c *testcluster.Cluster, ns, tag string, extra ...string) map[string]string {
	in := map[string]string{
		"release": "web", "namespace": ns, "chart": filepath.Join(actionrun.Root(), "examples", "chart"), "image_tag": tag,
		"kubeconfig": string(c.Kubeconfig), "timeout": "90s", "strategy": "canary", "prometheus_url": c.PrometheusURL,
		"set": "replicaCount=3\nhttpRoute.enabled=true\nhttpRoute.hostnames[0]=" + ns + ".example\n" +
			"httpRoute.parentRefs[0].name=" + c.Gateway.Name + "\nhttpRoute.parentRefs[0].namespace=" + c.Gateway.Namespace,
		"traffic_router": "gateway-api", "http_route": "web",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

// installed installs 1.0.0 (a first install is a rolling one: the chart's route comes with it)
// and waits until requests through the gateway reach it.
func installed(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	in := routedInputs(c, ns, "1.0.0")
	delete(in, "traffic_router")
	delete(in, "http_route")
	r := actionrun.Run(t, context.Background(), in)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("first install: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	deadline := time.Now().Add(30 * time.Second)
	for get(c, ns, false) != "1.0.0" {
		if time.Now().After(deadline) {
			t.Fatal("no request reached 1.0.0 through the gateway 30s after the install")
		}
		time.Sleep(50 * time.Millisecond)
	}
	threeReady(t, c, ns)
}

// threeReady waits until Service web lists its 3 ready pods: an endpoint sampler that follows
// starts from them.
func threeReady(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := c.ReadyEndpoints(context.Background(), ns, "web")
		if err == nil && n == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Service web lists %d ready endpoints, want 3 (%v)", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

// get asks the gateway for host <ns>.example's /api/hello, with the preview header or not, and
// returns the version that answered (or what went wrong).
func get(c *testcluster.Cluster, ns string, preview bool) string {
	req, _ := http.NewRequest(http.MethodGet, c.Gateway.URL+"/api/hello", nil)
	req.Host = ns + ".example"
	if preview {
		req.Header.Set("X-Canary", "always")
	}
	resp, err := client.Do(req)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	var body struct{ Version string }
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return body.Version
}

// tally counts the requests through the gateway by the canary weight it served while they ran
// (read from the gateway itself, before and after each request: requests across a change are
// not counted), and the preview requests' answers while any weight went to the canary.
type tally struct {
	mu       sync.Mutex
	byWeight map[float64]map[string]int
	preview  map[string]int
	// lastCanary is when 2.0.0 last answered a request without the header.
	lastCanary time.Time
	stop       context.CancelFunc
	done       sync.WaitGroup
}

func count(c *testcluster.Cluster, ns string) *tally {
	ctx, cancel := context.WithCancel(context.Background())
	tl := &tally{byWeight: map[float64]map[string]int{}, preview: map[string]int{}, stop: cancel}
	var share sync.Map // "w": the canary's share the gateway serves now
	share.Store("w", 0.0)
	tl.done.Add(2)
	go func() {
		defer tl.done.Done()
		for ctx.Err() == nil {
			if w, ok := canaryShare(ctx, c, ns); ok {
				share.Store("w", w)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	go func() {
		defer tl.done.Done()
		for i := 0; ctx.Err() == nil; i++ {
			before, _ := share.Load("w")
			preview := i%5 == 4
			v := get(c, ns, preview)
			after, _ := share.Load("w")
			tl.mu.Lock()
			switch {
			case preview && before.(float64) > 0 && before.(float64) < 100 && after == before:
				tl.preview[v]++
			case !preview && before == after:
				if tl.byWeight[after.(float64)] == nil {
					tl.byWeight[after.(float64)] = map[string]int{}
				}
				tl.byWeight[after.(float64)][v]++
			}
			if !preview && v == "2.0.0" {
				tl.lastCanary = time.Now()
			}
			tl.mu.Unlock()
		}
	}()
	return tl
}

func (tl *tally) Stop() {
	tl.stop()
	tl.done.Wait()
}

// canaryShare is the canary's weight, in percent, in what the gateway serves for route web now
// (0 when no rule weights web-canary against web-stable).
func canaryShare(ctx context.Context, c *testcluster.Cluster, ns string) (float64, bool) {
	served, err := c.Gateway.Weighted(ctx, ns, "web")
	if err != nil {
		return 0, false
	}
	for _, backends := range served {
		var canary, stable int64
		for name, w := range backends {
			switch {
			case strings.HasPrefix(name, "web-canary-"):
				canary += w
			case strings.HasPrefix(name, "web-stable-"):
				stable += w
			}
		}
		if stable > 0 || (canary > 0 && len(backends) > 1) {
			return math.Round(1000*float64(canary)/float64(canary+stable)) / 10, true
		}
	}
	return 0, true
}

// routeAsRendered checks that HTTPRoute web is back as the chart renders it: one rule to
// Service web, no saved rules.
func routeAsRendered(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	got, err := c.Dynamic.Resource(testcluster.HTTPRouteGVR).Namespace(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := json.Marshal(got.Object["spec"].(map[string]any)["rules"])
	if _, saved := got.GetAnnotations()[strategy.RouteRulesAnnotation]; saved || !strings.Contains(string(rules), `"name":"web","port":80`) || strings.Contains(string(rules), "web-canary") {
		t.Errorf("the route is not as the chart renders it: annotations %v, rules %s", got.GetAnnotations(), rules)
	}
}

// offset is when the run's log line containing what was printed, from its "[+  3.9s]" prefix.
func offset(t *testing.T, log, what string) time.Duration {
	t.Helper()
	re := regexp.MustCompile(`\[\+\s*([0-9.]+)s\][^\n]*` + regexp.QuoteMeta(what))
	m := re.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the run's log has no %q:\n%s", what, log)
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(f * float64(time.Second))
}

// servesOnly requires that 200 requests in a row through the gateway reach version, once the
// gateway has let go of the pods that stopped (up to 10 s: the example app stops at once on
// SIGTERM, with no preStop delay, so a gateway that still lists a stopped pod answers 502 for
// it until it reads the pod's EndpointSlice change); the requests that did not are logged.
func servesOnly(t *testing.T, c *testcluster.Cluster, ns, version string) {
	t.Helper()
	other := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for streak := 0; streak < 200; {
		v := get(c, ns, false)
		if v == version {
			streak++
			continue
		}
		if v == "1.0.0" || v == "2.0.0" || time.Now().After(deadline) {
			t.Fatalf("a request reached %s after %v, want %s alone", v, other, version)
		}
		other[v]++
		streak = 0
	}
	t.Logf("then 200 requests in a row reached %s (before them: %v)", version, other)
}

// threeThroughout requires that Service web never had fewer than its 3 ready endpoints.
func threeThroughout(t *testing.T, fig testcluster.EndpointFigures) {
	t.Helper()
	if fig.Min < 3 {
		t.Errorf("Service web had %d ready endpoints at worst, want its 3 throughout", fig.Min)
	}
}

// endsOn stops the sampler and requires the route as the chart renders it, version alone
// serving, and Service web at its 3 ready endpoints throughout.
func endsOn(t *testing.T, c *testcluster.Cluster, ns string, eps *testcluster.EndpointSampler, version string) {
	t.Helper()
	fig := eps.Stop()
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, version)
	t.Logf("Service web: %s", fig)
	threeThroughout(t, fig)
}
