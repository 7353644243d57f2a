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
	at := Simulate(rowNamed(t, "at the threshold, 5.0%, 10 req/s"), s, n, rng)
	if at[0].Aborted < 0.3 {
		t.Errorf("the rule before aborted %.1f%% at the threshold: the simulation no longer shows the problem", 100*at[0].Aborted)
	}
	if r := Simulate(rowNamed(t, "6× the threshold (30%), 10 req/s"), s, 200, rng); r[2].Aborted < 1 || r[2].Median != s.Look {
		t.Errorf("6× the threshold: %+v, want every stage aborted at the first look", r[2])
	}
}

func rowNamed(t *testing.T, name string) Row {
	for _, r := range Rows {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return Row{}
}

// Read through scrapes every 15, 30 and 60 s, the judge on exact counts keeps its false aborts
// within alpha in every row that is not worse, and still stops a canary at 6× the threshold
// within two scrape intervals.
func TestScrapeSimulation(t *testing.T) {
	const n = 1000
	rng := rand.New(rand.NewSource(11))
	s := DefaultStage
	slack := 3 * math.Sqrt(s.Alpha*(1-s.Alpha)/n)
	for _, every := range Scrapes {
		for _, row := range Rows {
			if row.Worse {
				continue
			}
			res := SimulateScrapes(row, s, every, n, rng)
			for k := 2; k < len(res); k++ {
				if k == 2 && row.Stable > s.Threshold {
					continue // the threshold alone blames the canary for an outage
				}
				if res[k].Aborted > s.Alpha+slack {
					t.Errorf("scrapes every %s, %s: %s aborted %.2f%% (alpha %g)", every, row.Name, ScrapeJudges[k], 100*res[k].Aborted, s.Alpha)
				}
			}
		}
		r := SimulateScrapes(rowNamed(t, "6× the threshold (30%), 10 req/s"), s, every, 200, rng)
		if r[3].Aborted < 1 || r[3].Median > 2*every {
			t.Errorf("scrapes every %s, 6× the threshold: %+v, want every stage aborted within two scrapes", every, r[3])
		}
	}
}

// increase() as Prometheus computes it: the samples' difference stretched to the range's
// edges when they are within 1.1 average intervals, by half an interval otherwise, and not
// past the counter's zero; the exact count is the difference of the last scrapes.
func TestIncreaseExtrapolatesAndExactDoesNot(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		firstAt, lastAt, first, last float64
		n                            int
		want                         float64
	}{
		{"two scrapes 30 s apart in a 55 s range", 10, 40, 1000, 1060, 2, 60 * 55.0 / 30},
		{"the first 30 s after the range's start: half an interval", 30, 50, 1000, 1020, 3, 20 * 30.0 / 20},
		{"a counter from zero is not stretched before it", 10, 40, 0, 60, 2, 60 * 45.0 / 30},
	} {
		if got := Increase(tc.firstAt, tc.lastAt, tc.first, tc.last, tc.n, 0, 55); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: increase %g, want %g", tc.name, got, tc.want)
		}
	}
	sc := []scrape{{at: -20, reqC: 1000, errC: 50}, {at: 10, reqC: 1060, errC: 53}, {at: 40, reqC: 1120, errC: 58}}
	c, _ := exact(sc, 55)
	o, _ := extrapolated(sc, 55)
	if c.Requests != 120 || c.Errors != 8 {
		t.Errorf("exact: %+v, want 120 requests and 8 errors", c)
	}
	if math.Abs(o.Requests-110) > 1e-9 || math.Abs(o.Errors-5*55.0/30) > 1e-9 {
		t.Errorf("extrapolated: %+v, want 110 requests and 9.17 errors (two scrapes in the range)", o)
	}
}
