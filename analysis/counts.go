package analysis

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Counts that are counts. A look reads what really happened on a track since its stage began:
// each counter series' raw value at the stage's start and now, subtracted series by series
// here — never increase() or rate(), which extrapolate to the window's edges and, while few
// scrapes fall in it, inflate errors and requests alike by up to ~2× (and the evidence with
// them). Prometheus holds only scraped samples, so the value at the start is a series' last
// scrape at or before it (its usual five-minute lookback), and the value now its last scrape
// in the stage so far (last_over_time, so a pod that went during the stage keeps its count):
// what is counted is exactly the requests between two scrapes that both exist.

// The default counters, on the conventional metric names (client_golang's promhttp, most HTTP
// middleware): requests by status code (5xx answers are errors), and the latency histogram's
// cumulative buckets. They are selectors, read raw: no increase(), no rate().
const (
	RequestsSeries = `http_requests_total{namespace="{{ namespace }}",pod=~"{{ pods }}"}`
	BucketsSeries  = `http_request_duration_seconds_bucket{namespace="{{ namespace }}",pod=~"{{ pods }}"}`
)

// errorCode is the status codes counted as errors (the code label): 5xx.
var errorCode = regexp.MustCompile(`^5..$`)

// Span is the stage so far: the counters are read at Start and at Now.
type Span struct {
	Start, Now time.Time
}

// CounterQueries are the two instant queries of a counter selector over span: the raw series
// at the start (evaluated at span.Start) and each series' last sample since it (evaluated at
// span.Now: last_over_time over the span, whole seconds, at least one).
func CounterQueries(selector string, span Span) (atStart, atNow string) {
	secs := int(math.Ceil(span.Now.Sub(span.Start).Seconds()))
	return selector, fmt.Sprintf("last_over_time(%s[%ds])", selector, max(1, secs))
}

// Increase is how much each counter series grew from start to now, series by series (keyed by
// their labels, the metric's name aside): a series absent at the start was born since and
// counts from 0 (a new pod, or a status code's first answer); one lower now than at the start
// was reset (its pod restarted) and counts its value now; one absent now did not grow. The
// result is sorted by labels.
func Increase(start, now []Series) []Series {
	before := map[string]float64{}
	for _, s := range start {
		before[seriesKey(s.Labels)] = s.Value
	}
	out := make([]Series, 0, len(now))
	for _, s := range now {
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		v := s.Value
		if b, ok := before[seriesKey(s.Labels)]; ok && b <= v {
			v -= b
		}
		l := make(map[string]string, len(s.Labels))
		for k, val := range s.Labels {
			if k != "__name__" {
				l[k] = val
			}
		}
		out = append(out, Series{Labels: l, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return seriesKey(out[i].Labels) < seriesKey(out[j].Labels) })
	return out
}

// seriesKey names a series by its labels, the metric's name aside (last_over_time drops it).
func seriesKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, l[k])
	}
	return b.String()
}

// readCounts reads a counter selector's per-series counts over span; seen is false when no
// series exists at either end (no data, which is not zero).
func readCounts(ctx context.Context, p Querier, selector string, span Span) (counts []Series, seen bool, err error) {
	qStart, qNow := CounterQueries(selector, span)
	start, err := p.QueryVectorAt(ctx, qStart, span.Start)
	if err != nil {
		return nil, false, err
	}
	now, err := p.QueryVectorAt(ctx, qNow, span.Now)
	if err != nil {
		return nil, false, err
	}
	return Increase(start, now), len(start)+len(now) > 0, nil
}

// requestCounts sums per-series counts into requests and errors (series whose code is 5xx).
func requestCounts(counts []Series) (requests, errors float64) {
	for _, s := range counts {
		requests += s.Value
		if errorCode.MatchString(s.Labels["code"]) {
			errors += s.Value
		}
	}
	return requests, errors
}

// bucketCounts sums per-series counts by their bound (le) into a cumulative histogram, sorted
// (nil: no series).
func bucketCounts(counts []Series) []Bucket {
	by := map[float64]float64{}
	for _, s := range counts {
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil || math.IsNaN(le) {
			continue
		}
		by[le] += s.Value
	}
	var out []Bucket
	for le, c := range by {
		out = append(out, Bucket{Le: le, Count: c})
	}
	SortBuckets(out)
	return out
}

// Quantile is the q-quantile of a cumulative histogram as Prometheus's histogram_quantile
// estimates it (linear within the bucket the rank falls in; the highest finite bound when it
// falls in +Inf): no data without a +Inf bucket, two buckets or any request.
func Quantile(q float64, b []Bucket) Sample {
	b = append([]Bucket(nil), b...)
	SortBuckets(b)
	if len(b) < 2 || !math.IsInf(b[len(b)-1].Le, 1) || !(b[len(b)-1].Count > 0) {
		return Sample{NoData: true}
	}
	for i := 1; i < len(b); i++ { // counts are cumulative: never lower at a higher bound
		b[i].Count = math.Max(b[i].Count, b[i-1].Count)
	}
	rank := q * b[len(b)-1].Count
	i := sort.Search(len(b)-1, func(i int) bool { return b[i].Count >= rank })
	switch {
	case i == len(b)-1:
		return Sample{Value: b[len(b)-2].Le}
	case i == 0 && b[0].Le <= 0:
		return Sample{Value: b[0].Le}
	}
	lo, count := 0.0, b[i].Count
	if i > 0 {
		lo, count, rank = b[i-1].Le, count-b[i-1].Count, rank-b[i-1].Count
	}
	return Sample{Value: lo + (b[i].Le-lo)*rank/count}
}
