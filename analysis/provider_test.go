package analysis

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The Prometheus provider fills the default queries' placeholders from the track and reads
// the counters at the track's stage start and now.
func TestPrometheusProviderObservesATrack(t *testing.T) {
	start := time.Now().Add(-1500 * time.Millisecond)
	db := &fakeTSDB{series: map[string][]point{`http_requests_total{pod=web-canary-1,code=500}`: {{start.Add(-time.Second), 1}, {start.Add(time.Second), 3}}}}
	p := &PrometheusProvider{P: db, Queries: Queries{WithLatency: true}}
	o, err := p.Observe(context.Background(), Track{Namespace: "prod", Release: "web", Name: "canary", Pods: "web-canary-.*", Window: 2 * time.Second, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if o.Requests != 2 || o.Errors != 2 || !o.P99.NoData || !p.Latency() {
		t.Errorf("observation %+v", o)
	}
	if len(db.asked) != 4 {
		t.Fatalf("asked %d queries, want requests and buckets at the start and now: %+v", len(db.asked), db.asked)
	}
	for i, q := range db.asked {
		if !strings.Contains(q.q, `namespace="prod"`) || !strings.Contains(q.q, `pod=~"web-canary-.*"`) {
			t.Errorf("query %q: placeholders not filled from the track", q.q)
		}
		if i%2 == 0 && !q.at.Equal(start) {
			t.Errorf("query %q read at %s, want the stage's start %s", q.q, q.at, start)
		}
		if i%2 == 1 && (time.Since(q.at) > time.Minute || !strings.HasSuffix(q.q, "[2s])")) {
			t.Errorf("query %q read at %s, want now over the stage so far (2s)", q.q, q.at)
		}
	}
}

var _ Provider = (*PrometheusProvider)(nil)
