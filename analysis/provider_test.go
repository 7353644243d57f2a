package analysis

import (
	"context"
	"strings"
	"testing"
	"time"
)

// recorder is a Querier that records the PromQL it is asked and answers 1.
type recorder struct{ asked []string }

func (r *recorder) Query(_ context.Context, q string) (Sample, error) {
	r.asked = append(r.asked, q)
	return Sample{Value: 1}, nil
}

// The Prometheus provider fills the default queries' placeholders from the track.
func TestPrometheusProviderObservesATrack(t *testing.T) {
	rec := &recorder{}
	p := &PrometheusProvider{P: rec, Queries: Queries{WithLatency: true}}
	o, err := p.Observe(context.Background(), Track{Namespace: "prod", Release: "web", Name: "canary", Pods: "web-canary-.*", Window: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if o.Requests != 1 || o.Errors != 1 || o.P99.Value != 1 || !p.Latency() {
		t.Errorf("observation %+v", o)
	}
	if len(rec.asked) != 3 {
		t.Fatalf("asked %d queries, want requests, errors and latency: %q", len(rec.asked), rec.asked)
	}
	for _, q := range rec.asked {
		if !strings.Contains(q, `namespace="prod"`) || !strings.Contains(q, `pod=~"web-canary-.*"`) || !strings.Contains(q, "[2s]") {
			t.Errorf("query %q: placeholders not filled from the track", q)
		}
	}
}

var _ Provider = (*PrometheusProvider)(nil)
