//go:build e2e

package analysis

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// exporter serves counters in Prometheus' text format, as a set the test changes.
type exporter struct {
	mu    sync.Mutex
	lines map[string]float64 // `name{labels}` → value
}

func (e *exporter) set(lines map[string]float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = lines
}

func (e *exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	fmt.Fprintln(w, "# TYPE http_request_duration_seconds histogram")
	for k, v := range e.lines {
		fmt.Fprintf(w, "%s %g\n", k, v)
	}
}

// Against the real Prometheus scraping an exporter every second: a look counts exactly what the
// counters did between the last scrape at or before the stage's start and the last one since —
// a pod's growth, a pod born during the stage from 0, a restarted pod's value now, a pod gone
// since (its series stale) what it did before it went, the other track's pod not at all — where increase() over the same window gives an extrapolated figure.
func TestCountsAgainstPrometheus(t *testing.T) {
	t.Parallel()
	exp := &exporter{}
	req := func(pod, code string) string {
		return fmt.Sprintf(`http_requests_total{namespace="prod",pod=%q,code=%q}`, pod, code)
	}
	bucket := func(pod, le string) string {
		return fmt.Sprintf(`http_request_duration_seconds_bucket{namespace="prod",pod=%q,le=%q}`, pod, le)
	}
	exp.set(map[string]float64{req("web-canary-a", "200"): 100, req("web-canary-a", "500"): 5, req("web-canary-c", "200"): 500,
		req("web-canary-gone", "200"): 50, req("web-stable-x", "500"): 0, bucket("web-canary-a", "0.1"): 90, bucket("web-canary-a", "+Inf"): 105})
	srv := httptest.NewServer(exp)
	t.Cleanup(srv.Close)
	addr := startPrometheusScraping(t, "shepherd", "pr0m-pass", strings.TrimPrefix(srv.URL, "http://"))
	p, err := NewPrometheus("http://shepherd:pr0m-pass@"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vars := map[string]string{"namespace": "prod", "release": "web", "pods": "web-canary-.*", "window": "10s", "track": "canary"}
	waitFor(t, "the first scrape", func() bool {
		s, err := p.Query(ctx, `sum(http_requests_total{pod="web-canary-a"})`)
		return err == nil && s.Value == 105
	})
	start := time.Now()
	time.Sleep(1500 * time.Millisecond) // a scrape at the old values after the start too
	now := map[string]float64{req("web-canary-a", "200"): 130, req("web-canary-a", "500"): 8, req("web-canary-c", "200"): 10,
		req("web-canary-b", "200"): 18, req("web-canary-b", "503"): 2, req("web-stable-x", "500"): 999,
		req("web-canary-gone", "200"): 70, bucket("web-canary-a", "0.1"): 120, bucket("web-canary-a", "+Inf"): 138}
	exp.set(now)
	var o Observation
	look := func() bool {
		time.Sleep(300 * time.Millisecond)
		o, err = Queries{WithBuckets: true, WithLatency: true}.Observe(ctx, p, vars, Span{Start: start, Now: time.Now()})
		return err == nil && o.Requests == 30+3+10+18+2+20
	}
	waitFor(t, "the counts since the start", look)
	// A pod that went during the stage: its series is stale now, and its 20 requests still count.
	delete(now, req("web-canary-gone", "200"))
	exp.set(now)
	waitFor(t, "the gone pod's series to go stale", func() bool {
		v, err := p.QueryVector(ctx, `http_requests_total{pod="web-canary-gone"}`)
		return err == nil && len(v) == 0
	})
	if !look() {
		t.Errorf("after a pod went: %+v, %v; want its 20 requests still counted (83)", o, err)
	}
	if o.Errors != 3+2 || !o.RequestsKnown || o.Ratio != 5.0/83 {
		t.Errorf("observation %+v, want 83 requests and 5 errors", o)
	}
	if want := []Bucket{{0.1, 30}, {math.Inf(1), 33}}; fmt.Sprint(o.Buckets) != fmt.Sprint(want) {
		t.Errorf("buckets %v, want %v", o.Buckets, want)
	}
	// histogram_quantile over the same bucket counts, in Prometheus itself.
	q, err := p.Query(ctx, `histogram_quantile(0.99, sum by (le) (label_replace(vector(30), "le", "0.1", "", "") or label_replace(vector(33), "le", "+Inf", "", "")))`)
	if err != nil || math.Abs(q.Value-o.P99.Value) > 1e-9 {
		t.Errorf("p99 %+v, Prometheus' histogram_quantile %+v (%v)", o.P99, q, err)
	}
	window := fmt.Sprintf("%ds", int(math.Ceil(time.Since(start).Seconds())))
	inc, err := p.Query(ctx, `sum(increase(http_requests_total{namespace="prod",pod=~"web-canary-.*"}[`+window+`]))`)
	t.Logf("exact: %g requests, %g errors; increase() over %s: %+v (%v)", o.Requests, o.Errors, window, inc, err)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
