package analysis

import (
	"math"
	"sort"
)

// Anytime-valid tests of counts. Each test is an e-process: a nonnegative number that starts at
// 1 and, while its null hypothesis holds, is a supermartingale in the requests as they come —
// so by Ville's inequality the chance that it EVER reaches 1/alpha is at most alpha, however
// often it is looked at and whenever the looking stops (Ville 1939; Howard, Ramdas, McAuliffe
// and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
// 2021; Johari, Koomen, Pekelis and Walsh, "Always Valid Inference", Oper. Res. 2022). A stage
// may be read every second or every minute and ended early or late: its false-abort rate stays
// within its alpha.
//
// The e-process here is a mixture sequential probability ratio test (Robbins 1970) for a
// Bernoulli rate: the likelihood ratio of the counts under an alternative rate, averaged over a
// fixed grid of alternatives above the null (oddsGrid). For a canary against the stable track,
// the counts are compared as Lindon, Ham, Tingley and Bojinov compare count data of a canary
// and its control ("Rapid Regression Detection in Software Deployments through Sequential
// Testing", KDD 2022): given that an error happened on one of the two tracks, it happened on
// the canary with a probability fixed by the tracks' shares of the requests and the ratio of
// their error rates — so a comparison of two unknown rates becomes a test of one Bernoulli rate
// whose null is known.

// oddsGrid are the alternatives a mixture weighs equally: odds of the event that many times the
// null's. From a quarter more to a hundred times, so that a small regression is found in time
// and a broken release within a handful of requests.
var oddsGrid = []float64{1.25, 1.5, 2, 3, 5, 10, 30, 100}

// BernoulliE is the anytime-valid evidence against "the rate is at most p0" from k events in n
// trials (the mixture e-value over oddsGrid): under that null it reaches 1/alpha with
// probability at most alpha, ever. No trials is 1; a null rate of 0 with an event is +Inf; a
// null rate of 1 is never rejected. Counts need not be whole (a user's error ratio times the
// request count is not).
func BernoulliE(k, n, p0 float64) float64 {
	if !(n > 0) || math.IsInf(n, 0) {
		return 1
	}
	k = math.Max(0, math.Min(k, n))
	switch {
	case p0 >= 1:
		return 1
	case p0 <= 0:
		if k > 0 {
			return math.Inf(1)
		}
		return 1
	}
	odds0 := p0 / (1 - p0)
	logs := make([]float64, len(oddsGrid))
	for i, r := range oddsGrid {
		o := odds0 * r
		p := o / (1 + o)
		logs[i] = k*math.Log(p/p0) + (n-k)*math.Log((1-p)/(1-p0))
	}
	return math.Exp(logMeanExp(logs))
}

// logMeanExp is log(mean(exp(x))), without overflow.
func logMeanExp(x []float64) float64 {
	top := math.Inf(-1)
	for _, v := range x {
		top = math.Max(top, v)
	}
	if math.IsInf(top, 0) {
		return top
	}
	sum := 0.0
	for _, v := range x {
		sum += math.Exp(v - top)
	}
	return top + math.Log(sum/float64(len(x)))
}

// RatioE is the anytime-valid evidence against "the canary's rate of an event is at most ratio
// times the stable track's", from each track's events (kc, ks) and requests (nc, ns) over the
// same window: an event falls on the canary with probability ratio·nc / (ratio·nc + ns) at
// most under that null. No requests on either track is 1 (nothing to compare with). The
// tracks' shares are taken from the window's counts, which is exact while the split holds
// still — as it does within a stage.
func RatioE(kc, ks, nc, ns, ratio float64) float64 {
	if !(nc > 0) || !(ns > 0) || !(ratio > 0) {
		return 1
	}
	kc, ks = math.Max(0, math.Min(kc, nc)), math.Max(0, math.Min(ks, ns))
	theta0 := ratio * nc / (ratio*nc + ns)
	return BernoulliE(kc, kc+ks, theta0)
}

// Bucket is one cumulative bucket of a latency histogram: how many requests took at most Le
// seconds (+Inf: all of them).
type Bucket struct {
	Le    float64
	Count float64
}

// SlowerE is the anytime-valid evidence that the canary is slower than the stable track: at
// each finite bucket bound both tracks have, a request slower than the bound is an event, and
// the canary's share of them is tested against ratio times the stable's (RatioE); the bounds'
// e-values are averaged, which is an e-process again. It returns the evidence and the bound a
// person reads it at (NaN when the histograms share none): of the bounds with evidence, the
// highest where the canary's share of slower requests exceeds ratio times the stable's by at
// least half the largest such excess — a 300 ms regression reads "slower than 250 ms", not
// "slower than 10 ms" because a few fast requests were a little slow too. 1 when either track
// has no requests.
func SlowerE(canary, stable []Bucket, ratio float64) (e, at float64) {
	nc, ns := total(canary), total(stable)
	at = math.NaN()
	if !(nc > 0) || !(ns > 0) {
		return 1, at
	}
	sc, ss := finite(canary), finite(stable)
	var logs []float64
	gaps := map[float64]float64{} // the canary's excess share, at each bound with evidence
	most := 0.0
	for le, cc := range sc {
		cs, ok := ss[le]
		if !ok {
			continue
		}
		v := math.Log(RatioE(nc-cc, ns-cs, nc, ns, ratio))
		logs = append(logs, v)
		if g := (nc-cc)/nc - ratio*(ns-cs)/ns; v > 0 && g > 0 {
			gaps[le], most = g, math.Max(most, g)
		}
	}
	if len(logs) == 0 {
		return 1, math.NaN()
	}
	for le, g := range gaps {
		if g >= most/2 && (math.IsNaN(at) || le > at) {
			at = le
		}
	}
	return math.Exp(logMeanExp(logs)), at
}

// total is the +Inf bucket's count (0 when there is none).
func total(b []Bucket) float64 {
	for _, x := range b {
		if math.IsInf(x.Le, 1) {
			return x.Count
		}
	}
	return 0
}

// finite maps each finite bound to its count.
func finite(b []Bucket) map[float64]float64 {
	out := map[float64]float64{}
	for _, x := range b {
		if !math.IsInf(x.Le, 0) && !math.IsNaN(x.Le) {
			out[x.Le] = x.Count
		}
	}
	return out
}

// SlowerShare is the share of requests slower than le in a histogram (NaN: no requests).
func SlowerShare(b []Bucket, le float64) float64 {
	n := total(b)
	if !(n > 0) {
		return math.NaN()
	}
	c, ok := finite(b)[le]
	if !ok {
		return math.NaN()
	}
	return math.Max(0, n-c) / n
}

// SortBuckets orders buckets by bound.
func SortBuckets(b []Bucket) {
	sort.Slice(b, func(i, j int) bool { return b[i].Le < b[j].Le })
}
