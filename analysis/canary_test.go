package analysis

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// point is one scraped sample of a series.
type point struct {
	at time.Time
	v  float64
}

// fakeTSDB answers instant queries as Prometheus does over scraped samples: a raw selector at
// a time gives each series' last sample at or before it (within five minutes), and
// last_over_time(sel[Ns]) each series' last sample in the N seconds up to it. A series
// matches when the query names its metric and, for pod=~"re", its pod matches. Query (a user's
// template) answers from scalars by substring. Every query is recorded with its time.
type fakeTSDB struct {
	series  map[string][]point // "metric{k=v,...}" → samples, in time order
	scalars map[string]Sample
	asked   []asked
	fail    bool
}

type asked struct {
	q  string
	at time.Time
}

var (
	lastOver = regexp.MustCompile(`^last_over_time\((.*)\[(\d+)s\]\)$`)
	podRe    = regexp.MustCompile(`pod=~"([^"]*)"`)
)

func (f *fakeTSDB) Query(_ context.Context, q string) (Sample, error) {
	f.asked = append(f.asked, asked{q, time.Time{}})
	if f.fail || strings.Contains(q, "boom") {
		return Sample{}, errors.New("prometheus at http://p:9090: down")
	}
	for k, v := range f.scalars {
		if strings.Contains(q, k) {
			return v, nil
		}
	}
	return Sample{NoData: true}, nil
}

func (f *fakeTSDB) QueryVectorAt(_ context.Context, q string, at time.Time) ([]Series, error) {
	f.asked = append(f.asked, asked{q, at})
	if f.fail {
		return nil, errors.New("prometheus at http://p:9090: down")
	}
	sel, from := q, at.Add(-5*time.Minute)
	if m := lastOver.FindStringSubmatch(q); m != nil {
		n, _ := strconv.Atoi(m[2])
		sel, from = m[1], at.Add(-time.Duration(n)*time.Second)
	}
	var out []Series
	for key, pts := range f.series {
		labels := parseKey(key)
		if !strings.HasPrefix(sel, labels["__name__"]+"{") {
			continue
		}
		if m := podRe.FindStringSubmatch(sel); m != nil && !regexp.MustCompile("^(?:"+m[1]+")$").MatchString(labels["pod"]) {
			continue
		}
		var last *point
		for i := range pts {
			if !pts[i].at.After(at) && pts[i].at.After(from) {
				last = &pts[i]
			}
		}
		if last != nil {
			if lastOver.MatchString(q) {
				delete(labels, "__name__")
			}
			out = append(out, Series{Labels: labels, Value: last.v})
		}
	}
	return out, nil
}

func parseKey(key string) map[string]string {
	name, rest, _ := strings.Cut(strings.TrimSuffix(key, "}"), "{")
	l := map[string]string{"__name__": name}
	for _, kv := range strings.Split(rest, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			l[k] = v
		}
	}
	return l
}

var (
	t0    = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	vars  = map[string]string{"namespace": "prod", "release": "web", "pods": "web-canary-.*", "window": "60s", "track": "canary"}
	stage = Span{Start: t0, Now: t0.Add(60 * time.Second)}
)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// A look counts what happened between the last scrape at or before the stage's start and the
// last scrape since: series by series, a pod restarted (its counter went down) counting its
// value now, a pod or a status code born during the stage counting from 0, a pod of another
// track not at all — and exactly, not extrapolated to the window's edges.
func TestObserveCountsExactly(t *testing.T) {
	db := &fakeTSDB{series: map[string][]point{
		// scraped every 15 s, 5 s off the stage's start: 100 requests before it, 30 since
		`http_requests_total{pod=web-canary-a,code=200}`: {{at(-10), 100}, {at(5), 110}, {at(20), 120}, {at(35), 125}, {at(50), 130}},
		`http_requests_total{pod=web-canary-a,code=500}`: {{at(-10), 5}, {at(5), 6}, {at(50), 8}},
		// born after the start (a new pod)
		`http_requests_total{pod=web-canary-b,code=200}`: {{at(12), 4}, {at(42), 20}},
		`http_requests_total{pod=web-canary-b,code=503}`: {{at(42), 2}},
		// restarted during the stage: 500 before, 10 since its restart
		`http_requests_total{pod=web-canary-c,code=200}`: {{at(-1), 500}, {at(29), 3}, {at(59), 10}},
		// the stable's pod: not this track
		`http_requests_total{pod=web-stable-x,code=500}`: {{at(-10), 0}, {at(50), 999}},
	}}
	o, err := Queries{}.Observe(context.Background(), db, vars, stage)
	if err != nil {
		t.Fatal(err)
	}
	if o.Requests != 30+3+20+2+10 || o.Errors != 3+2 || !o.RequestsKnown || o.Ratio != 5.0/65 {
		t.Errorf("observation %+v, want 65 requests and 5 errors", o)
	}
	// No 5xx series at all, with requests: zero errors, not no data.
	o, _ = Queries{}.Observe(context.Background(), &fakeTSDB{series: map[string][]point{
		`http_requests_total{pod=web-canary-a,code=200}`: {{at(-10), 100}, {at(50), 220}}}}, vars, stage)
	if o.Requests != 120 || o.Errors != 0 || o.Ratio != 0 || !o.RequestsKnown {
		t.Errorf("no 5xx series: %+v", o)
	}
	// No series at either end: no data, not zero.
	o, _ = Queries{}.Observe(context.Background(), &fakeTSDB{}, vars, stage)
	if o.RequestsKnown || !math.IsNaN(o.Ratio) {
		t.Errorf("no series: %+v", o)
	}
}

// The counters are read with two instant queries: the raw selector at the stage's start, and
// each series' last sample over the stage so far at now — no increase(), no rate().
func TestCountsAreReadAtTheStageStartAndNow(t *testing.T) {
	db := &fakeTSDB{series: map[string][]point{`http_requests_total{pod=web-canary-a,code=200}`: {{at(-10), 1}, {at(50), 2}}}}
	span := Span{Start: t0, Now: t0.Add(44500 * time.Millisecond)}
	if _, err := (Queries{WithBuckets: true, WithLatency: true}).Observe(context.Background(), db, vars, span); err != nil {
		t.Fatal(err)
	}
	sel := `{namespace="prod",pod=~"web-canary-.*"}`
	want := []asked{
		{"http_requests_total" + sel, span.Start},
		{"last_over_time(http_requests_total" + sel + "[45s])", span.Now},
		{"http_request_duration_seconds_bucket" + sel, span.Start},
		{"last_over_time(http_request_duration_seconds_bucket" + sel + "[45s])", span.Now},
	}
	if len(db.asked) != len(want) {
		t.Fatalf("asked %+v, want %+v", db.asked, want)
	}
	for i, w := range want {
		if db.asked[i].q != w.q || !db.asked[i].at.Equal(w.at) {
			t.Errorf("query %d: %q at %s, want %q at %s", i, db.asked[i].q, db.asked[i].at, w.q, w.at)
		}
	}
}

func TestDefaultCountQueriesDoNotExtrapolate(t *testing.T) {
	for _, sel := range []string{RequestsSeries, BucketsSeries} {
		a, b := CounterQueries(sel, stage)
		for _, q := range []string{sel, a, b} {
			if strings.Contains(q, "increase(") || strings.Contains(q, "rate(") {
				t.Errorf("%q extrapolates", q)
			}
		}
		if err := CheckTemplate(sel, QueryVars); err != nil {
			t.Error(err)
		}
	}
	if err := CheckTemplate(`x{a="{{ podz }}"}`, QueryVars); err == nil || !strings.Contains(err.Error(), "podz") {
		t.Errorf("unknown placeholder: %v", err)
	}
}

// A user's ratio is taken as it is (it is not a count) and weighed by the exact request count;
// a user's latency template is read as written; a Prometheus error is not swallowed.
func TestObserveUserTemplates(t *testing.T) {
	db := &fakeTSDB{series: map[string][]point{`http_requests_total{pod=web-canary-a,code=200}`: {{at(-10), 100}, {at(50), 140}}},
		scalars: map[string]Sample{`my_ratio{ns="prod"}[60s]`: {Value: 0.5}, `p99{track="canary"}`: {Value: 0.25}}}
	o, err := Queries{ErrorRate: `my_ratio{ns="{{ namespace }}"}[{{ window }}]`, WithLatency: true, Latency: `p99{track="{{ track }}"}`}.
		Observe(context.Background(), db, vars, stage)
	if err != nil || o.Requests != 40 || o.Errors != 20 || o.Ratio != 0.5 || o.P99.NoData || o.P99.Value != 0.25 {
		t.Errorf("%+v %v", o, err)
	}
	if _, err := (Queries{ErrorRate: "boom"}).Observe(context.Background(), db, vars, stage); err == nil {
		t.Error("a Prometheus error was swallowed")
	}
}
