package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func newTestApp(t *testing.T, kv map[string]string) http.Handler {
	t.Helper()
	cfg, err := configFromEnv(env(kv))
	if err != nil {
		t.Fatalf("configFromEnv(%v): %v", kv, err)
	}
	return newApp(cfg).routes()
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var v T
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return v
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		code int
		want healthResponse
	}{
		{"healthy", map[string]string{"VERSION": "1.2.3"}, 200, healthResponse{"healthy", "connected", "1.2.3"}},
		{"default version", nil, 200, healthResponse{"healthy", "connected", "dev"}},
		{"unhealthy", map[string]string{"UNHEALTHY": "true", "VERSION": "2.0.0"}, 503, healthResponse{"unhealthy", "disconnected", "2.0.0"}},
		{"unhealthy false", map[string]string{"UNHEALTHY": "false"}, 200, healthResponse{"healthy", "connected", "dev"}},
		{"still starting", map[string]string{"READY_DELAY_MS": "60000"}, 503, healthResponse{"starting", "connecting", "dev"}},
		{"no delay", map[string]string{"READY_DELAY_MS": "0"}, 200, healthResponse{"healthy", "connected", "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, newTestApp(t, tt.env), "/api/health")
			if rec.Code != tt.code {
				t.Errorf("code = %d, want %d", rec.Code, tt.code)
			}
			if got := decode[healthResponse](t, rec); got != tt.want {
				t.Errorf("body = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHealthJSONShape(t *testing.T) {
	rec := get(t, newTestApp(t, map[string]string{"VERSION": "1.0.0"}), "/api/health")
	want := `{"status":"healthy","database":"connected","version":"1.0.0"}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("body = %q, want %q", rec.Body.String(), want)
	}
}

func TestHello(t *testing.T) {
	rec := get(t, newTestApp(t, map[string]string{"VERSION": "abc123"}), "/api/hello")
	if rec.Code != 200 {
		t.Fatalf("code = %d, want 200", rec.Code)
	}
	if got, want := decode[helloResponse](t, rec), (helloResponse{"hello", "abc123"}); got != want {
		t.Errorf("body = %+v, want %+v", got, want)
	}
}

func TestRoutes(t *testing.T) {
	h := newTestApp(t, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/hello", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/hello: code = %d, want 405", rec.Code)
	}
	if rec := get(t, h, "/nope"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope: code = %d, want 404", rec.Code)
	}
}

func TestConfigFromEnv(t *testing.T) {
	cfg, err := configFromEnv(env(map[string]string{
		"VERSION": "9", "FAIL_RATE": "0.25", "LATENCY_MS": "150", "UNHEALTHY": "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config{version: "9", failRate: 0.25, latency: 150 * time.Millisecond, unhealthy: true}
	if cfg != want {
		t.Errorf("config = %+v, want %+v", cfg, want)
	}

	for _, kv := range []map[string]string{
		{"FAIL_RATE": "abc"},
		{"FAIL_RATE": "1.5"},
		{"FAIL_RATE": "-0.1"},
		{"FAIL_RATE": "NaN"},
		{"LATENCY_MS": "-1"},
		{"LATENCY_MS": "1.5"},
		{"UNHEALTHY": "maybe"},
	} {
		if _, err := configFromEnv(env(kv)); err == nil {
			t.Errorf("configFromEnv(%v): no error", kv)
		}
	}
}

// failures sends n requests to /api/hello and returns the 1-based numbers of the ones answered 500.
func failures(t *testing.T, rate string, n int) []int {
	t.Helper()
	h := newTestApp(t, map[string]string{"FAIL_RATE": rate})
	var failed []int
	for i := 1; i <= n; i++ {
		rec := get(t, h, "/api/hello")
		switch rec.Code {
		case 200:
		case 500:
			if e := decode[errorResponse](t, rec); e.Error == "" {
				t.Errorf("request %d: 500 without an error message", i)
			}
			failed = append(failed, i)
		default:
			t.Fatalf("request %d: code %d", i, rec.Code)
		}
	}
	return failed
}

func TestFailRate(t *testing.T) {
	if got := failures(t, "0.1", 30); !equal(got, []int{10, 20, 30}) {
		t.Errorf("FAIL_RATE=0.1: failed %v, want every 10th", got)
	}
	if got := failures(t, "0.25", 12); !equal(got, []int{4, 8, 12}) {
		t.Errorf("FAIL_RATE=0.25: failed %v, want every 4th", got)
	}
	if got := failures(t, "0.5", 6); !equal(got, []int{2, 4, 6}) {
		t.Errorf("FAIL_RATE=0.5: failed %v, want every 2nd", got)
	}
	if got := failures(t, "1", 5); len(got) != 5 {
		t.Errorf("FAIL_RATE=1: failed %v, want all", got)
	}
	if got := failures(t, "0", 50); len(got) != 0 {
		t.Errorf("FAIL_RATE=0: failed %v, want none", got)
	}
	if got := failures(t, "0.3", 100); len(got) != 30 {
		t.Errorf("FAIL_RATE=0.3: %d of 100 failed, want 30", len(got))
	}
	// Deterministic: the same rate fails the same requests every time.
	if a, b := failures(t, "0.3", 20), failures(t, "0.3", 20); !equal(a, b) {
		t.Errorf("FAIL_RATE=0.3 not deterministic: %v then %v", a, b)
	}
	// Only /api/hello fails.
	h := newTestApp(t, map[string]string{"FAIL_RATE": "1"})
	if rec := get(t, h, "/api/health"); rec.Code != 200 {
		t.Errorf("FAIL_RATE=1: /api/health code %d, want 200", rec.Code)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatency(t *testing.T) {
	h := newTestApp(t, map[string]string{"LATENCY_MS": "60"})
	start := time.Now()
	if rec := get(t, h, "/api/hello"); rec.Code != 200 {
		t.Fatalf("code = %d", rec.Code)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("took %v, want >= 60ms", d)
	}
	// The delay shows in the histogram: nothing at or under 50ms.
	m := scrape(t, h)
	if got := m[`http_request_duration_seconds_bucket{code="200",handler="/api/hello",method="get",le="0.05"}`]; got != 0 {
		t.Errorf("le=0.05 bucket = %v, want 0", got)
	}
	if got := m[`http_request_duration_seconds_bucket{code="200",handler="/api/hello",method="get",le="+Inf"}`]; got != 1 {
		t.Errorf("le=+Inf bucket = %v, want 1", got)
	}
	if got := m[`http_request_duration_seconds_sum{code="200",handler="/api/hello",method="get"}`]; got < 0.06 {
		t.Errorf("sum = %v, want >= 0.06", got)
	}
	// Health checks are not delayed.
	start = time.Now()
	get(t, h, "/api/health")
	if d := time.Since(start); d >= 60*time.Millisecond {
		t.Errorf("/api/health took %v; LATENCY_MS should only apply to /api/hello", d)
	}
}

func TestLatencyGivesUpWhenClientLeaves(t *testing.T) {
	h := newTestApp(t, map[string]string{"LATENCY_MS": "60000"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/hello", nil).WithContext(ctx))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still sleeping after the request was cancelled")
	}
}

// sampleLine is one sample of the text exposition format: name, optional labels, value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (\S+)$`)

// scrape GETs /metrics and parses it, checking the format as it goes. The
// result maps each series, exactly as written (name{labels}), to its value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := get(t, h, "/metrics")
	if rec.Code != 200 {
		t.Fatalf("/metrics: code %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("/metrics Content-Type = %q", ct)
	}
	types := map[string]string{}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("bad sample line %q", line)
			continue
		}
		family := m[1]
		if types[family] == "" {
			family = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(family, "_bucket"), "_sum"), "_count")
		}
		if types[family] == "" {
			t.Errorf("sample %q before its # TYPE line", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("bad value in %q: %v", line, err)
		}
		series := m[1] + m[2]
		if _, dup := out[series]; dup {
			t.Errorf("duplicate series %s", series)
		}
		out[series] = v
	}
	want := map[string]string{
		"http_requests_total":           "counter",
		"http_request_duration_seconds": "histogram",
		"app_info":                      "gauge",
	}
	for name, typ := range want {
		if types[name] != typ && (types[name] != "" || name == "app_info") { // a family with no sample yet is not written
			t.Errorf("# TYPE %s = %q, want %q", name, types[name], typ)
		}
	}
	return out
}

var bucketBounds = []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}

// checkHistogram checks the histogram of GET handler answered with code has every bucket,
// cumulative, ending in count.
func checkHistogram(t *testing.T, m map[string]float64, handler, code string, count float64) {
	t.Helper()
	labels := `code="` + code + `",handler="` + handler + `",method="get"`
	prev := 0.0
	for _, le := range bucketBounds {
		key := `http_request_duration_seconds_bucket{` + labels + `,le="` + le + `"}`
		v, ok := m[key]
		if !ok {
			t.Errorf("missing %s", key)
			continue
		}
		if v < prev {
			t.Errorf("%s = %v, below the previous bucket's %v", key, v, prev)
		}
		prev = v
	}
	if prev != count {
		t.Errorf("%s %s: +Inf bucket = %v, want %v", handler, code, prev, count)
	}
	if got := m[`http_request_duration_seconds_count{`+labels+`}`]; got != count {
		t.Errorf("%s %s: _count = %v, want %v", handler, code, got, count)
	}
	if _, ok := m[`http_request_duration_seconds_sum{`+labels+`}`]; !ok {
		t.Errorf("%s %s: no _sum", handler, code)
	}
}

func TestMetrics(t *testing.T) {
	h := newTestApp(t, map[string]string{"VERSION": "1.2.3", "FAIL_RATE": "0.5"})
	for range 4 {
		get(t, h, "/api/hello") // 2 answered 200, 2 answered 500
	}
	get(t, h, "/api/health")

	m := scrape(t, h)
	checks := map[string]float64{
		`http_requests_total{code="200",handler="/api/hello",method="get"}`:  2,
		`http_requests_total{code="500",handler="/api/hello",method="get"}`:  2,
		`http_requests_total{code="200",handler="/api/health",method="get"}`: 1,
		`app_info{version="1.2.3"}`:                                          1,
	}
	for series, want := range checks {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	checkHistogram(t, m, "/api/hello", "200", 2)
	checkHistogram(t, m, "/api/hello", "500", 2)
	checkHistogram(t, m, "/api/health", "200", 1)

	// The counters move, and the scrape itself was counted.
	for range 3 {
		get(t, h, "/api/hello")
	}
	m = scrape(t, h)
	if got := m[`http_requests_total{code="200",handler="/api/hello",method="get"}`]; got != 4 {
		t.Errorf("after 3 more: 200s = %v, want 4", got) // requests 5 and 7 succeed, 6 fails
	}
	if got := m[`http_requests_total{code="500",handler="/api/hello",method="get"}`]; got != 3 {
		t.Errorf("after 3 more: 500s = %v, want 3", got)
	}
	checkHistogram(t, m, "/api/hello", "200", 4)
	checkHistogram(t, m, "/api/hello", "500", 3)
	if got := m[`http_requests_total{code="200",handler="/metrics",method="get"}`]; got != 1 {
		t.Errorf("/metrics counted %v times, want 1 (the first scrape)", got)
	}
	checkHistogram(t, m, "/metrics", "200", 1)
}

func TestMetricsEmpty(t *testing.T) {
	m := scrape(t, newTestApp(t, nil))
	if got := m[`app_info{version="dev"}`]; got != 1 {
		t.Errorf(`app_info{version="dev"} = %v, want 1`, got)
	}
	if len(m) != 1 {
		t.Errorf("fresh app exports %v, want only app_info", m)
	}
}

func TestMetricsConcurrent(t *testing.T) {
	h := newTestApp(t, nil)
	const workers, each = 16, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/hello", nil))
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
			}
		})
	}
	wg.Wait()
	m := scrape(t, h)
	if got := m[`http_requests_total{code="200",handler="/api/hello",method="get"}`]; got != workers*each {
		t.Errorf("hello count = %v, want %d", got, workers*each)
	}
	checkHistogram(t, m, "/api/hello", "200", workers*each)
	checkHistogram(t, m, "/metrics", "200", workers*each)
}

// READY_DELAY_MS: starting (503) until the delay has passed, then healthy.
func TestHealthReadyAfterDelay(t *testing.T) {
	cfg, err := configFromEnv(env(map[string]string{"READY_DELAY_MS": "4000"}))
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(cfg)
	start := a.readyAt.Add(-4 * time.Second)
	for _, tc := range []struct {
		after time.Duration
		code  int
	}{{0, 503}, {3999 * time.Millisecond, 503}, {4 * time.Second, 200}} {
		a.now = func() time.Time { return start.Add(tc.after) }
		if rec := get(t, a.routes(), "/api/health"); rec.Code != tc.code {
			t.Errorf("%s after the start: %d, want %d", tc.after, rec.Code, tc.code)
		}
	}
}

// REQUIRE_HEADER: /api/health answers 403 without the header, 200 with it.
func TestHealthRequiresHeader(t *testing.T) {
	h := newTestApp(t, map[string]string{"REQUIRE_HEADER": "X-Probe: shepherd"})
	if rec := get(t, h, "/api/health"); rec.Code != http.StatusForbidden {
		t.Errorf("without the header: %d, want 403", rec.Code)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/health", nil)
	req.Header.Set("X-Probe", "shepherd")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("with the header: %d, want 200", rec.Code)
	}
}

// GET /api/config: the env as started, the file as it is now.
func TestConfigEndpoint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "greeting")
	if err := os.WriteFile(file, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newTestApp(t, map[string]string{"GREETING": "v1", "GREETING_FILE": file})
	if got := decode[configResponse](t, get(t, h, "/api/config")); got.GreetingEnv != "v1" || got.GreetingFile != "v1" {
		t.Errorf("config = %+v", got)
	}
	if err := os.WriteFile(file, []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := decode[configResponse](t, get(t, h, "/api/config")); got.GreetingEnv != "v1" || got.GreetingFile != "v2" {
		t.Errorf("after the file changed: %+v, want env v1 and file v2", got)
	}
}
