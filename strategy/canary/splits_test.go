package canary

import (
	"fmt"
	"strings"
	"testing"
)

func TestPlanCanary(t *testing.T) {
	std := []int{10, 25, 50, 75, 100}
	for _, tc := range []struct {
		n    int
		ws   []int
		want string // canary+stable per stage
	}{
		{10, std, "1+9 3+8 5+5 8+3 10+0"}, // 25% of 10: 3+8 (27.3%) beats 2+8 and 3+7 (20%, 30%)
		{4, std, "1+4 1+3 2+2 3+1 4+0"},   // 10% → 20% (closest with a canary pod), 25% exact
		{3, std, "1+3 1+3 2+2 3+1 3+0"},   // 3 cannot give 10%: 25% is the closest
		{2, std, "1+2 1+2 1+1 2+1 2+0"},   // 10% and 25% both round to 1 of 3
		{1, std, "1+1 1+1 1+1 1+1 1+0"},   // one replica: the canary runs beside it
		{20, []int{5, 100}, "1+19 20+0"},  // exact
		{100, []int{1, 50, 100}, "1+99 50+50 100+0"},
	} {
		splits, err := PlanCanary(tc.ws, tc.n)
		if err != nil {
			t.Fatalf("n=%d: %v", tc.n, err)
		}
		var got []string
		for _, s := range splits {
			got = append(got, fmt.Sprintf("%d+%d", s.Canary, s.Stable))
			if s.Requested < 100 && (s.Canary == 0 || s.Stable == 0) {
				t.Errorf("n=%d, %d%%: %+v leaves a track empty", tc.n, s.Requested, s)
			}
			if s.Canary+s.Stable > tc.n+1 {
				t.Errorf("n=%d, %d%%: %+v runs more than n+1 replicas", tc.n, s.Requested, s)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("n=%d %v: %s, want %s", tc.n, tc.ws, strings.Join(got, " "), tc.want)
		}
	}
}

func TestSplitActualAndExact(t *testing.T) {
	s := Split{Requested: 10, Canary: 1, Stable: 3}
	if s.Actual() != 25 || s.Exact() {
		t.Errorf("%+v: actual %v exact %v", s, s.Actual(), s.Exact())
	}
	if e := (Split{Requested: 50, Canary: 2, Stable: 2}); !e.Exact() {
		t.Errorf("%+v should be exact", e)
	}
}

func TestMaxTotal(t *testing.T) {
	std := []int{10, 25, 50, 75, 100}
	for _, tc := range []struct{ n, want int }{
		{10, 13}, // 50→75%: 8 canary come up while 5 stable still run
		{4, 5},   // each stage: one canary pod above the stable pods still running
		{3, 5},   // 50→75%: 3 canary beside 2 stable
		{1, 2},
	} {
		splits, err := PlanCanary(std, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := MaxTotal(splits, tc.n); got != tc.want {
			t.Errorf("n=%d: MaxTotal %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestPlanNeedsReplicas(t *testing.T) {
	if _, err := PlanCanary([]int{100}, 0); err == nil {
		t.Error("0 replicas planned")
	}
}

func TestPlanRouted(t *testing.T) {
	got, err := PlanRouted([]int{10, 25, 50, 100}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Split{{10, 1, 3, true}, {25, 1, 3, true}, {50, 2, 3, true}, {100, 3, 3, true}}
	for i, s := range got {
		if s != want[i] || s.Actual() != float64(s.Requested) || !s.Exact() {
			t.Errorf("stage %d: %+v (actual %g), want %+v", i, s, s.Actual(), want[i])
		}
	}
	if got, _ := PlanRouted([]int{10, 100}, 10, 2); got[0].Canary != 2 || got[1].Canary != 2 || got[1].Stable != 10 {
		t.Errorf("canary_replicas 2: %+v", got)
	}
	if _, err := PlanRouted([]int{10, 100}, 0, 0); err == nil {
		t.Error("0 replicas planned")
	}
	if MaxTotal(want, 3) != 6 {
		t.Errorf("MaxTotal = %d, want the stable's 3 beside the canary's 3", MaxTotal(want, 3))
	}
}
