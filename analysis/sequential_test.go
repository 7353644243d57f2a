package analysis

import (
	"math"
	"math/rand"
	"testing"
)

// Under its null the e-process reaches 1/alpha in at most alpha of the runs, though it is
// looked at after every single request; far above its null it gets there fast.
func TestBernoulliEIsAnytimeValid(t *testing.T) {
	const runs, looks, alpha = 1000, 2000, 0.05
	rng := rand.New(rand.NewSource(1))
	crossed := 0
	for r := 0; r < runs; r++ {
		k := 0.0
		for n := 1; n <= looks; n++ {
			if rng.Float64() < 0.05 {
				k++
			}
			if BernoulliE(k, float64(n), 0.05) >= 1/alpha {
				crossed++
				break
			}
		}
	}
	if rate := float64(crossed) / runs; rate > alpha {
		t.Errorf("crossed in %.3f of the runs at the null, want at most %g", rate, alpha)
	} else {
		t.Logf("crossed in %.3f of the runs at the null (alpha %g), looking after every request", rate, alpha)
	}
	if e := BernoulliE(30, 100, 0.05); e < 1e6 {
		t.Errorf("30 errors in 100 requests against 5%%: e = %g", e)
	}
	if e := BernoulliE(2, 100, 0.05); e >= 1 {
		t.Errorf("2 errors in 100 requests is evidence against 5%%: e = %g", e)
	}
}

func TestBernoulliEEdges(t *testing.T) {
	for _, tc := range []struct {
		k, n, p0, want float64
	}{
		{0, 0, 0.05, 1},
		{3, 10, 1, 1},
		{0, 10, 0, 1},
		{1, 10, 0, math.Inf(1)},
		{20, 10, 0.05, BernoulliE(10, 10, 0.05)}, // more errors than requests: clamped
	} {
		if got := BernoulliE(tc.k, tc.n, tc.p0); got != tc.want {
			t.Errorf("BernoulliE(%g, %g, %g) = %g, want %g", tc.k, tc.n, tc.p0, got, tc.want)
		}
	}
	if e := BernoulliE(1e6, 1e6, 0.05); math.IsInf(e, 0) || math.IsNaN(e) {
		if !math.IsInf(e, 1) {
			t.Errorf("a million errors: %g", e)
		}
	}
}

// The ratio test holds its level when both tracks share one error rate at the null's ratio,
// whatever the split, and has no say without a stable track.
func TestRatioEIsAnytimeValid(t *testing.T) {
	const runs, looks, alpha = 1000, 400, 0.05
	rng := rand.New(rand.NewSource(2))
	crossed := 0
	for r := 0; r < runs; r++ {
		var kc, ks, nc, ns float64
		for l := 0; l < looks; l++ {
			for i := 0; i < 10; i++ { // 10 requests between looks, 20% to the canary
				if rng.Float64() < 0.2 {
					nc++
					if rng.Float64() < 0.06 { // 1.5 × the stable's 4%
						kc++
					}
				} else {
					ns++
					if rng.Float64() < 0.04 {
						ks++
					}
				}
			}
			if RatioE(kc, ks, nc, ns, 1.5) >= 1/alpha {
				crossed++
				break
			}
		}
	}
	if rate := float64(crossed) / runs; rate > alpha {
		t.Errorf("crossed in %.3f of the runs at the null, want at most %g", rate, alpha)
	}
	if e := RatioE(5, 0, 100, 0, 1.5); e != 1 {
		t.Errorf("no stable requests: e = %g, want 1", e)
	}
	if e := RatioE(300, 100, 1e4, 1e4, 1.5); e < 300 {
		t.Errorf("3x the stable in 10k requests each: e = %g", e)
	}
}

func TestSlowerE(t *testing.T) {
	c := []Bucket{{0.1, 50}, {0.5, 80}, {math.Inf(1), 100}}
	s := []Bucket{{0.1, 90}, {0.5, 99}, {math.Inf(1), 100}}
	e, le := SlowerE(c, s, 1.5)
	if e <= 1 || le != 0.5 { // excess 0.185 at 500 ms, at least half the 0.35 at 100 ms: the higher bound
		t.Errorf("e %g at %g", e, le)
	}
	// 300 ms of latency: 78.6% of the canary's requests are slower than 250 ms, 80% slower than
	// 10 ms (a few fast ones were a little slow too), none of the stable's: read at 250 ms.
	slow := []Bucket{{0.01, 200}, {0.25, 214}, {0.5, 1000}, {math.Inf(1), 1000}}
	fast := []Bucket{{0.01, 1000}, {0.25, 1000}, {0.5, 1000}, {math.Inf(1), 1000}}
	if _, le := SlowerE(slow, fast, 1.5); le != 0.25 {
		t.Errorf("a 300 ms regression read at %g s, want 0.25", le)
	}
	if got := SlowerShare(c, 0.1); got != 0.5 {
		t.Errorf("share %g", got)
	}
	if e, _ := SlowerE(c, nil, 1.5); e != 1 {
		t.Errorf("no stable histogram: %g", e)
	}
	if e, le := SlowerE(c, []Bucket{{0.25, 9}, {math.Inf(1), 10}}, 1.5); e != 1 || !math.IsNaN(le) {
		t.Errorf("no shared bound: %g %g", e, le)
	}
}
