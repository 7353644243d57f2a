package main

import (
	"math"
	"math/rand"
	"testing"
)

// On the same draws, the anytime-valid judges keep their false aborts within alpha (with room
// for the simulation's own error) where the rule they replaced did not, and still stop a
// canary at 6× the threshold at the first look.
func TestJudgeSimulation(t *testing.T) {
	const n = 1000
	rng := rand.New(rand.NewSource(7))
	s := DefaultStage
	slack := 3 * math.Sqrt(s.Alpha*(1-s.Alpha)/n)
	for _, row := range Rows {
		res := Simulate(row, s, n, rng)
		t.Logf("%s: %+v", row.Name, res)
		if row.Worse {
			continue
		}
		for k := 1; k < len(res); k++ {
			if k == 1 && row.Stable > s.Threshold {
				continue // the threshold alone blames the canary for an outage: that is what it is for
			}
			if res[k].Aborted > s.Alpha+slack {
				t.Errorf("%s: %s aborted %.2f%% of stages that were not worse (alpha %g)", row.Name, Judges[k], 100*res[k].Aborted, s.Alpha)
			}
		}
	}
	at := Simulate(Rows[2], s, n, rng)
	if at[0].Aborted < 0.3 {
		t.Errorf("the rule before aborted %.1f%% at the threshold: the simulation no longer shows the problem", 100*at[0].Aborted)
	}
	if r := Simulate(Rows[7], s, 200, rng); r[2].Aborted < 1 || r[2].Median != s.Look {
		t.Errorf("6× the threshold: %+v, want every stage aborted at the first look", r[2])
	}
}
