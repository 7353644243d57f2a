package analysis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeQuerier func(string) (Sample, error)

func (f fakeQuerier) Query(_ context.Context, q string) (Sample, error) { return f(q) }

func (f fakeQuerier) QueryVectorAt(_ context.Context, q string, _ time.Time) ([]Series, error) {
	_, err := f(q)
	return nil, err
}

func TestCheckNamesTheInputThatCannotWork(t *testing.T) {
	checkVars := map[string]string{"namespace": "ns", "release": "web", "window": "1m", "track": "canary", "pods": "^$"}
	down := fakeQuerier(func(string) (Sample, error) { return Sample{}, errors.New("connection refused") })
	badTemplate := fakeQuerier(func(q string) (Sample, error) {
		if strings.Contains(q, "rate(oops") {
			return Sample{}, errors.New("bad_data: parse error")
		}
		return Sample{NoData: true}, nil
	})
	for _, tc := range []struct {
		name string
		q    Queries
		p    Querier
		want string
	}{
		{"prometheus down", Queries{}, down, "prometheus_url: connection refused"},
		{"error template does not parse", Queries{ErrorRate: `rate(oops{pod=~"{{ pods }}"}`}, badTemplate, "error_rate_query: Prometheus cannot run it: bad_data"},
		{"latency template does not parse", Queries{Latency: `rate(oops[{{ window }}])`, WithLatency: true}, badTemplate, "latency_query: Prometheus cannot run it"},
		{"latency template unused", Queries{Latency: `rate(oops[{{ window }}])`}, badTemplate, ""},
		{"all good", Queries{ErrorRate: `sum(x{pod=~"{{ pods }}"})`}, badTemplate, ""},
	} {
		err := tc.q.Check(context.Background(), tc.p, checkVars, stage, "prometheus_url", "error_rate_query", "latency_query")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
