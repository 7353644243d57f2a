package analysis

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

type fakeProm map[string]Sample // query substring → answer

func (f fakeProm) Query(_ context.Context, q string) (Sample, error) {
	for k, v := range f {
		if strings.Contains(q, k) {
			return v, nil
		}
	}
	if strings.Contains(q, "boom") {
		return Sample{}, errors.New("prometheus at http://p:9090: down")
	}
	return Sample{NoData: true}, nil
}

func TestObserve(t *testing.T) {
	vars := map[string]string{"namespace": "prod", "release": "web", "pods": "web-canary-.*", "window": "30s", "track": "canary"}
	// No 5xx series at all, with requests: zero errors, not no data.
	o, err := Queries{}.Observe(context.Background(), fakeProm{`pod=~"web-canary-.*"}[30s]`: {Value: 120}}, vars)
	if err != nil || o.Requests != 120 || o.Errors != 0 || o.Ratio != 0 || !o.RequestsKnown {
		t.Fatalf("%+v %v", o, err)
	}
	// A user's ratio query is scaled by the request count.
	o, _ = Queries{ErrorRate: `my_ratio{ns="{{ namespace }}"}`}.Observe(context.Background(),
		fakeProm{`my_ratio{ns="prod"}`: {Value: 0.5}, `http_requests_total`: {Value: 40}}, vars)
	if o.Errors != 20 || o.Ratio != 0.5 {
		t.Errorf("%+v", o)
	}
	// Latency read only when asked, with the user's template.
	o, _ = Queries{WithLatency: true, Latency: `p99{track="{{ track }}"}`}.Observe(context.Background(),
		fakeProm{`p99{track="canary"}`: {Value: 0.25}}, vars)
	if o.P99.NoData || o.P99.Value != 0.25 || o.RequestsKnown || !math.IsNaN(o.Ratio) {
		t.Errorf("%+v", o)
	}
	if _, err := (Queries{ErrorRate: "boom"}).Observe(context.Background(), fakeProm{"http_requests_total": {Value: 1}}, vars); err == nil {
		t.Error("a Prometheus error was swallowed")
	}
}

func TestDefaultQueriesUseOnlyKnownPlaceholders(t *testing.T) {
	for _, q := range []string{RequestsQuery, ErrorsQuery, LatencyQuery} {
		if err := CheckTemplate(q, QueryVars); err != nil {
			t.Error(err)
		}
	}
	if err := CheckTemplate(`x{a="{{ podz }}"}`, QueryVars); err == nil || !strings.Contains(err.Error(), "podz") {
		t.Errorf("unknown placeholder: %v", err)
	}
}
