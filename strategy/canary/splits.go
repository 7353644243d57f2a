// Package strategy holds how a deploy replaces the running version. This file is the pure
// stage and replica math: no cluster, table-tested.
package canary

import (
	"fmt"
	"math"

	"github.com/shepherd-deploy/shepherd/config"
)

// Split is one canary stage: the weight asked for, and the replicas that come closest to it.
type Split struct {
	Requested int // percent of traffic asked for
	Canary    int // canary replicas
	Stable    int // stable replicas
	// Routed: a route weights the tracks, so the weight is the one asked for, whatever the
	// replicas (PlanRouted).
	Routed bool
}

// Actual is the weight the split gives, in percent: traffic splits by ready replicas, or as a
// route says (Routed).
func (s Split) Actual() float64 {
	if s.Routed {
		return float64(s.Requested)
	}
	if s.Canary+s.Stable == 0 {
		return 0
	}
	return 100 * float64(s.Canary) / float64(s.Canary+s.Stable)
}

// Exact reports whether the split gives the requested weight to within half a percent.
func (s Split) Exact() bool { return math.Abs(s.Actual()-float64(s.Requested)) < 0.5 }

// PlanCanary turns the requested stage weights and the chart's replica count n into replica
// splits, each with the closest achievable weight. Traffic splits by ready replicas, so with n
// replicas only multiples of 100/n are reachable; one replica above n is allowed when it comes
// closer (total replicas never exceed n+1). A weight of 1–99 never gets 0 canary replicas nor
// 0 stable ones (as Argo Rollouts' basic canary guarantees); 100 is all canary. Ties go to
// fewer replicas, then to fewer canary replicas.
//
// Worked examples: n=10, 10% → 1 canary + 9 stable (exact); n=3, 10% → 1 + 3 (25%, the
// closest with a canary pod at all); n=3, 50% → 2 + 2 (one replica above n, exact);
// n=1, 50% → 1 + 1.
func PlanCanary(weights []int, n int) ([]Split, error) {
	if err := checkPlan(weights, n); err != nil {
		return nil, err
	}
	out := make([]Split, 0, len(weights))
	for _, w := range weights {
		if w == 100 {
			out = append(out, Split{Requested: w, Canary: n})
			continue
		}
		best := Split{}
		bestErr := math.Inf(1)
		for total := n; total <= n+1; total++ {
			for c := 1; c <= total-1; c++ {
				s := Split{Requested: w, Canary: c, Stable: total - c}
				if e := math.Abs(s.Actual() - float64(w)); e < bestErr-1e-9 {
					best, bestErr = s, e
				}
			}
		}
		out = append(out, best)
	}
	return out, nil
}

// PlanRouted is the stages of a canary whose weights a route sets exactly: capacity follows
// weight — the canary runs ceil(n × weight) pods (fixed instead, when above 0), at least one —
// and the stable track keeps its n until the promotion, so an abort is a weight change first.
func PlanRouted(weights []int, n, fixed int) ([]Split, error) {
	if err := checkPlan(weights, n); err != nil {
		return nil, err
	}
	out := make([]Split, 0, len(weights))
	for _, w := range weights {
		c := fixed
		if c <= 0 {
			c = max(1, (n*w+99)/100)
		}
		out = append(out, Split{Requested: w, Canary: c, Stable: n, Routed: true})
	}
	return out, nil
}

// checkPlan refuses stages a canary cannot plan from n replicas.
func checkPlan(weights []int, n int) error {
	if n < 1 {
		return fmt.Errorf("the chart runs %d replicas: a canary needs at least 1", n)
	}
	return config.CheckStages(weights)
}

// MaxTotal is the most replicas the two tracks run at once while the splits are applied in
// order, starting from the stable track at n: each stage scales the canary up first and the
// stable track down only once the canary is ready, so capacity never drops below the stage's.
func MaxTotal(splits []Split, n int) int {
	most, stable := n, n
	for _, s := range splits {
		most = max(most, s.Canary+stable)
		stable = s.Stable
	}
	return most
}
