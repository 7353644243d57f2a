package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// config is everything the app reads from its environment.
type config struct {
	version   string        // VERSION, reported by /api/health, /api/hello and app_info
	failRate  float64       // FAIL_RATE: fraction of /api/hello requests answered 500
	latency   time.Duration // LATENCY_MS: extra delay added to every /api/hello request
	unhealthy bool          // UNHEALTHY: /api/health reports 503
	// READY_DELAY_MS: /api/health reports 503 ("starting") for this long after the start, as
	// an app that warms a cache or connects a pool does: its pod takes that long to be Ready.
	readyDelay time.Duration
	// REQUIRE_HEADER ("X-Probe: shepherd"): /api/health answers 403 to a request without that
	// header, as an app behind a probe-only route does.
	requireHeader, requireValue string
	// TLS=self-signed: serve HTTPS with a certificate made at start (a probe with scheme HTTPS).
	tls bool
	// GREETING and GREETING_FILE: config as a pod reads it, from env and from a mounted file
	// (GET /api/config shows both; the file is read on every request, as it changes in place).
	greeting, greetingFile string
}

// configFromEnv reads the fault knobs. getenv is os.Getenv outside tests.
func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{version: getenv("VERSION"), greeting: getenv("GREETING"), greetingFile: getenv("GREETING_FILE")}
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
	if s := strings.TrimSpace(getenv("REQUIRE_HEADER")); s != "" {
		k, v, ok := strings.Cut(s, ":")
		if !ok || strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("REQUIRE_HEADER=%q: want \"Name: value\"", s))
		}
		cfg.requireHeader, cfg.requireValue = strings.TrimSpace(k), strings.TrimSpace(v)
	}
	switch s := strings.TrimSpace(getenv("TLS")); s {
	case "":
	case "self-signed":
		cfg.tls = true
	default:
		errs = append(errs, fmt.Errorf("TLS=%q: want self-signed", s))
	}
	if s := strings.TrimSpace(getenv("READY_DELAY_MS")); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms < 0 {
			errs = append(errs, fmt.Errorf("READY_DELAY_MS=%q: want a whole number of milliseconds >= 0", s))
		}
		cfg.readyDelay = time.Duration(ms) * time.Millisecond
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
	readyAt time.Time // READY_DELAY_MS after the start
	now     func() time.Time
}

func newApp(cfg config) *app {
	return &app{cfg: cfg, fails: newFailEvery(cfg.failRate), metrics: newMetrics(cfg.version),
		readyAt: time.Now().Add(cfg.readyDelay), now: time.Now}
}

// routes is the app's HTTP handler: every route is counted and timed in /metrics.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/health", a.metrics.instrument("/api/health", http.HandlerFunc(a.health)))
	mux.Handle("GET /api/hello", a.metrics.instrument("/api/hello", http.HandlerFunc(a.hello)))
	mux.Handle("GET /metrics", a.metrics.instrument("/metrics", a.metrics.handler()))
	mux.Handle("GET /api/config", a.metrics.instrument("/api/config", http.HandlerFunc(a.config)))
	return mux
}

type healthResponse struct {
	Status   string `json:"status"`
	Database string `json:"database"`
	Version  string `json:"version"`
}

// health is what the readiness and liveness probes call.
func (a *app) health(w http.ResponseWriter, r *http.Request) {
	if a.cfg.requireHeader != "" && r.Header.Get(a.cfg.requireHeader) != a.cfg.requireValue {
		writeJSON(w, http.StatusForbidden, healthResponse{"forbidden: header " + a.cfg.requireHeader + " missing", "unknown", a.cfg.version})
		return
	}
	if a.cfg.unhealthy {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{"unhealthy", "disconnected", a.cfg.version})
		return
	}
	if a.now().Before(a.readyAt) {
		writeJSON(w, http.StatusServiceUnavailable, healthResponse{"starting", "connecting", a.cfg.version})
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // a write error means the client is gone
}

type configResponse struct {
	GreetingEnv  string `json:"greeting_env"`
	GreetingFile string `json:"greeting_file"`
	Version      string `json:"version"`
}

// config shows the config this pod reads: env GREETING as it started with, and the file
// GREETING_FILE as it is now.
func (a *app) config(w http.ResponseWriter, _ *http.Request) {
	resp := configResponse{GreetingEnv: a.cfg.greeting, Version: a.cfg.version}
	if a.cfg.greetingFile != "" {
		if b, err := os.ReadFile(a.cfg.greetingFile); err == nil {
			resp.GreetingFile = string(b)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}
