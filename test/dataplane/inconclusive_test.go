//go:build e2e

package dataplane

import (
	"testing"
)

// Inconclusive is a state, not a pass and not yet a failure: a stage whose window has too few
// requests to decide (min_requests 80 against about 10 requests a second to a 50% canary, so
// a 4 s stage cannot) holds on, judged as it goes, until enough came — and passes; with a
// max_interval too short for them it fails as no data, saying so.
func TestCanaryInconclusiveHoldsOn(t *testing.T) {
	t.Parallel()
	t.Run("enough came while it held on", func(t *testing.T) {
		t.Parallel()
		c, ns := withStable(t)
		r := runAction(t, canaryInputs(c, ns, "2.0.0", "interval", "4s", "min_requests", "80", "max_interval", "40s"))
		if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
			t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
		}
		contains(t, "the log", r.Stdout, "inconclusive after")
		contains(t, "the log", r.Stdout, "holding on, up to 40s (max_interval)")
	})
	t.Run("not enough by max_interval", func(t *testing.T) {
		t.Parallel()
		c, ns := withStable(t)
		r := runAction(t, canaryInputs(c, ns, "2.0.0", "interval", "4s", "min_requests", "100000", "max_interval", "6s"))
		wantOut(t, r, "status", "rolled-back")
		contains(t, "the diagnosis", r.Outputs["diagnosis"], "no data is not a pass")
		contains(t, "the diagnosis", r.Outputs["diagnosis"], "max_interval 6s")
		backOnStable(t, c, ns)
	})
}
