package analysis

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An unknown provider name is refused, naming the input and the providers there are — never a
// silent fallback to Prometheus.
func TestNewProviderRefusesAnUnknownName(t *testing.T) {
	p, err := NewProvider("datadog", Options{Input: "metrics_provider", URL: "http://prometheus:9090"})
	if err == nil || p != nil {
		t.Fatalf("provider %v, error %v: want a refusal", p, err)
	}
	for _, want := range []string{"metrics_provider", `"datadog"`, "allowed: prometheus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if p, err := NewProvider(DefaultProvider, Options{URL: "http://prometheus:9090"}); err != nil || p == nil {
		t.Fatalf("the default provider: %v, %v", p, err)
	}
}

// fakeRoundTripper answers every query with an empty vector (or fails while fail > 0) and
// records the requests.
type fakeRoundTripper struct {
	fail int
	reqs []*http.Request
}

func (f *fakeRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	f.reqs = append(f.reqs, req)
	if f.fail > 0 {
		f.fail--
		return nil, errors.New("connection refused")
	}
	body := `{"status":"success","data":{"resultType":"vector","result":[]}}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// The Prometheus provider with a Dialer (a Prometheus inside the cluster) queries through the
// transport it was given, with the token, dials again once when a query fails (closing the
// first way in), and Close closes the current one.
func TestPrometheusProviderQueriesThroughItsDialer(t *testing.T) {
	rt := &fakeRoundTripper{fail: 1}
	var dials, closed int
	dial := func(context.Context) (Dialed, error) {
		dials++
		return Dialed{URL: "http://in-cluster.invalid:9090", Transport: rt, Close: func() { closed++ }}, nil
	}
	p, err := NewProvider(DefaultProvider, Options{Dial: dial, Auth: Auth{Token: "s3cret"}, Inputs: [3]string{"prometheus_service"}})
	if err != nil {
		t.Fatal(err)
	}
	if dials != 0 {
		t.Fatalf("dialed %d times before the first query, want 0 (on first use)", dials)
	}
	tr := Track{Namespace: "prod", Release: "web", Name: "canary", Pods: "web-canary-.*", Window: time.Second}
	if _, err := p.Observe(context.Background(), tr); err != nil {
		t.Fatalf("observe: %v", err)
	}
	if dials != 2 || closed != 1 {
		t.Errorf("dialed %d, closed %d: want a second dial after the failed query, the first closed", dials, closed)
	}
	if len(rt.reqs) < 2 {
		t.Fatalf("the given transport saw %d requests", len(rt.reqs))
	}
	for _, r := range rt.reqs {
		if r.URL.Host != "in-cluster.invalid:9090" || r.Header.Get("Authorization") != "Bearer s3cret" {
			t.Errorf("request to %s with Authorization %q", r.URL.Host, r.Header.Get("Authorization"))
		}
	}
	c, ok := p.(io.Closer)
	if !ok {
		t.Fatal("the dialed provider cannot be closed")
	}
	_ = c.Close()
	if closed != 2 {
		t.Errorf("closed %d times after Close, want 2", closed)
	}
}
