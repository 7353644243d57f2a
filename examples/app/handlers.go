package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// config is everything the app reads from its environment.
type config struct {
	version   string        // VERSION, reported by /api/health, /api/hello and app_info
	failRate  float64       // FAIL_RATE: fraction of /api/hello requests answered 500
	latency   time.Duration // LATENCY_MS: extra delay added to every /api/hello request
	unhealthy bool          // UNHEALTHY: /api/health reports 503
}

// configFromEnv reads the fault knobs. getenv is os.Getenv outside tests.
func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{version: getenv("VERSION")}
	if cfg.version == "" {
		cfg.version = "dev"
	}
	var errs []error
	if s := strings.TrimSpace(getenv("FAIL_RATE")); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			errs = append(errs, fmt.Errorf("FAIL_RATE=%q: want a fraction between 0 and 1", s))
		}
		cfg.failRate = f
	}
	if s := strings.TrimSpace(getenv("LATENCY_MS")); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms < 0 {
			errs = append(errs, fmt.Errorf("LATENCY_MS=%q: want a whole number of milliseconds >= 0", s))
		}
		cfg.latency = time.Duration(ms) * time.Millisecond
	}
	if s := strings.TrimSpace(getenv("UNHEALTHY")); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("UNHEALTHY=%q: want true or false", s))
		}
		cfg.unhealthy = b
	}
	return cfg, errors.Join(errs...)
}

// failEvery decides, deterministically, which requests FAIL_RATE fails.
// Request n (1-based) fails when floor(n*rate) steps up, so failures are
// spread evenly: a rate of 1/N fails exactly every Nth request (0.1 fails
// requests 10, 20, 30, ...), and any other rate fails the same fraction
// over every window of requests.
type failEvery struct {
	ppm uint64 // the rate in parts per million, so the arithmetic is exact
	n   atomic.Uint64
}

func newFailEvery(rate float64) *failEvery {
	return &failEvery{ppm: uint64(math.Round(rate * 1e6))}
}

// next counts one request and reports whether it should fail.
func (f *failEvery) next() bool {
	if f.ppm == 0 {
		return false
	}
	n := f.n.Add(1)
	return n*f.ppm/1e6 > (n-1)*f.ppm/1e6
}

// app holds the handlers' shared state.
type app struct {
	cfg     config
	fails   *failEvery
	metrics *metrics
}

func newApp(cfg config) *app {
	return &app{cfg: cfg, fails: newFailEvery(cfg.failRate), metrics: newMetrics()}
}

// routes is the app's HTTP handler: every route is counted and timed in /metrics.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/health", a.instrument("/api/health", http.HandlerFunc(a.health)))
	mux.Handle("GET /api/hello", a.instrument("/api/hello", http.HandlerFunc(a.hello)))
	mux.Handle("GET /metrics", a.instrument("/metrics", http.HandlerFunc(a.serveMetrics)))
	return mux
}

type healthResponse struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Version  string `json:"version"`
}

// health is what the readiness and liveness probes call.
func (a *app) health(w http.ResponseWriter, _ *http.Request) {
	if a.cfg.unhealthy {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{"unhealthy", "disconnected", a.cfg.version})
		return
	}
	writeJSON(w, http.StatusOK, healthResponse{"healthy", "connected", a.cfg.version})
}

type helloResponse struct {
	Message string `json:"message"`
	Version string `json:"version"`
}

type errorResponse struct {
	Error   string `json:"error"`
	Version string `json:"version"`
}

// hello is the "API" a smoke test calls; LATENCY_MS and FAIL_RATE apply here only.
func (a *app) hello(w http.ResponseWriter, r *http.Request) {
	if a.cfg.latency > 0 {
		t := time.NewTimer(a.cfg.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client went away; nothing to answer
		}
	}
	if a.fails.next() {
		writeJSON(w, http.StatusInternalServerError, errorResponse{"injected failure (FAIL_RATE)", a.cfg.version})
		return
	}
	writeJSON(w, http.StatusOK, helloResponse{"hello", a.cfg.version})
}

func (a *app) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	a.metrics.write(w, a.cfg.version)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // a write error means the client is gone
}

// instrument counts and times every request to next under the route label path
// (the route, not the raw URL, so the label set stays small).
func (a *app) instrument(path string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		a.metrics.observe(path, code, time.Since(start))
	})
}

// statusWriter remembers the status code a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// durationBuckets are the upper bounds of the request duration histogram, in
// seconds (the Prometheus client libraries' defaults); +Inf is implicit.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type counterKey struct {
	code int
	path string
}

// histogram is one label set's request durations. counts[i] is the number of
// observations that fell in bucket i alone (not cumulative); the last slot is +Inf.
type histogram struct {
	counts []uint64
	sum    float64
	count  uint64
}

// metrics is a hand-rolled, concurrency-safe Prometheus registry for the
// handful of series this app exports.
type metrics struct {
	mu        sync.Mutex
	requests  map[counterKey]uint64
	durations map[string]*histogram
}

func newMetrics() *metrics {
	return &metrics{requests: map[counterKey]uint64{}, durations: map[string]*histogram{}}
}

func (m *metrics) observe(path string, code int, d time.Duration) {
	secs := d.Seconds()
	i, _ := slices.BinarySearch(durationBuckets, secs) // first bucket with le >= secs
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[counterKey{code, path}]++
	h := m.durations[path]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.durations[path] = h
	}
	h.counts[i]++
	h.sum += secs
	h.count++
}

// write renders the registry in the Prometheus text exposition format 0.0.4,
// series sorted so the output is stable.
func (m *metrics) write(w io.Writer, version string) {
	var b strings.Builder
	m.mu.Lock()
	keys := make([]counterKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y counterKey) int {
		if c := strings.Compare(x.path, y.path); c != 0 {
			return c
		}
		return x.code - y.code
	})
	b.WriteString("# HELP http_requests_total HTTP requests answered, by status code and route.\n")
	b.WriteString("# TYPE http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "http_requests_total{code=\"%d\",path=\"%s\"} %d\n", k.code, escapeLabel(k.path), m.requests[k])
	}

	paths := make([]string, 0, len(m.durations))
	for p := range m.durations {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	b.WriteString("# HELP http_request_duration_seconds HTTP request latency, by route.\n")
	b.WriteString("# TYPE http_request_duration_seconds histogram\n")
	for _, p := range paths {
		h, lp := m.durations[p], escapeLabel(p)
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "http_request_duration_seconds_bucket{path=\"%s\",le=\"%s\"} %d\n", lp, formatFloat(le), cum)
		}
		cum += h.counts[len(durationBuckets)]
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{path=\"%s\",le=\"+Inf\"} %d\n", lp, cum)
		fmt.Fprintf(&b, "http_request_duration_seconds_sum{path=\"%s\"} %s\n", lp, formatFloat(h.sum))
		fmt.Fprintf(&b, "http_request_duration_seconds_count{path=\"%s\"} %d\n", lp, h.count)
	}
	m.mu.Unlock()

	b.WriteString("# HELP app_info The running build of the app; always 1.\n")
	b.WriteString("# TYPE app_info gauge\n")
	fmt.Fprintf(&b, "app_info{version=\"%s\"} 1\n", escapeLabel(version))
	_, _ = io.WriteString(w, b.String())
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
