package config

import (
	"strings"
	"testing"
)

func TestCheckStages(t *testing.T) {
	for _, tc := range []struct {
		ws   []int
		want string // "" for valid
	}{
		{[]int{10, 25, 50, 75, 100}, ""},
		{[]int{100}, ""},
		{nil, "no stages"},
		{[]int{10, 50}, "end at 100"},
		{[]int{10, 10, 100}, "must increase"},
		{[]int{50, 25, 100}, "must increase"},
		{[]int{0, 100}, "1 to 100"},
		{[]int{10, 120}, "1 to 100"},
	} {
		err := CheckStages(tc.ws)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckStages(%v) = %v, want %q", tc.ws, err, tc.want)
		}
	}
}
