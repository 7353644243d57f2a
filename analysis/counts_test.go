package analysis

import (
	"context"
	"math"
	"reflect"
	"testing"
)

// Series by series: a counter that went down was reset (its pod restarted) and counts its
// value now; one born after the start counts from 0; one gone by now did not grow; the metric's
// name does not part a series read raw from the same read through last_over_time.
func TestIncreasePerSeries(t *testing.T) {
	start := []Series{
		{Labels: map[string]string{"__name__": "c", "pod": "a"}, Value: 100},
		{Labels: map[string]string{"__name__": "c", "pod": "restarted"}, Value: 500},
		{Labels: map[string]string{"__name__": "c", "pod": "gone"}, Value: 50},
	}
	now := []Series{
		{Labels: map[string]string{"pod": "a"}, Value: 130},
		{Labels: map[string]string{"pod": "restarted"}, Value: 7},
		{Labels: map[string]string{"pod": "born"}, Value: 12},
		{Labels: map[string]string{"pod": "nan"}, Value: math.NaN()},
	}
	got := map[string]float64{}
	for _, s := range Increase(start, now) {
		got[s.Labels["pod"]] = s.Value
	}
	want := map[string]float64{"a": 30, "restarted": 7, "born": 12}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Increase = %v, want %v", got, want)
	}
}

// Bucket counts since the start, summed by bound over pods, and the p99 of them as
// histogram_quantile estimates it.
func TestBucketsAndQuantile(t *testing.T) {
	db := &fakeTSDB{series: map[string][]point{
		`http_request_duration_seconds_bucket{pod=web-canary-a,le=0.1}`:  {{at(-5), 1000}, {at(55), 1050}},
		`http_request_duration_seconds_bucket{pod=web-canary-a,le=0.5}`:  {{at(-5), 1000}, {at(55), 1090}},
		`http_request_duration_seconds_bucket{pod=web-canary-a,le=+Inf}`: {{at(-5), 1000}, {at(55), 1095}},
		`http_request_duration_seconds_bucket{pod=web-canary-b,le=0.1}`:  {{at(5), 0}},
		`http_request_duration_seconds_bucket{pod=web-canary-b,le=0.5}`:  {{at(5), 4}},
		`http_request_duration_seconds_bucket{pod=web-canary-b,le=+Inf}`: {{at(5), 5}},
		`http_requests_total{pod=web-canary-a,code=200}`:                 {{at(-5), 1000}, {at(55), 1095}},
	}}
	o, err := Queries{WithBuckets: true, WithLatency: true}.Observe(context.Background(), db, vars, stage)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{{0.1, 50}, {0.5, 94}, {math.Inf(1), 100}}
	if !reflect.DeepEqual(o.Buckets, want) {
		t.Errorf("buckets %v, want %v", o.Buckets, want)
	}
	// rank 99 of 100 falls in +Inf: the highest finite bound, as histogram_quantile says.
	if o.P99.NoData || o.P99.Value != 0.5 {
		t.Errorf("p99 %+v, want 0.5", o.P99)
	}
	for _, tc := range []struct {
		q    float64
		b    []Bucket
		want Sample
	}{
		{0.5, want, Sample{Value: 0.1}},
		{0.9, want, Sample{Value: 0.1 + 0.4*40/44}},
		{0.99, []Bucket{{0.1, 50}, {0.25, 90}, {0.5, 100}, {math.Inf(1), 100}}, Sample{Value: 0.25 + 0.25*9/10}},
		{0.99, []Bucket{{0.1, 0}, {math.Inf(1), 0}}, Sample{NoData: true}},
		{0.99, []Bucket{{0.1, 3}}, Sample{NoData: true}},
	} {
		if got := Quantile(tc.q, tc.b); math.Abs(got.Value-tc.want.Value) > 1e-12 || got.NoData != tc.want.NoData {
			t.Errorf("Quantile(%g, %v) = %+v, want %+v", tc.q, tc.b, got, tc.want)
		}
	}
}
