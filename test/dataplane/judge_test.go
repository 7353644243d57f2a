//go:build e2e

package dataplane

import (
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// stableFailing installs 1.0.0 answering that fraction of its API requests with 500s (the
// first install is a rolling one: nothing judges it).
func stableFailing(t *testing.T, rate string) (*testcluster.Cluster, string) {
	t.Helper()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := runAction(t, canaryInputs(c, ns, "1.0.0", "set", "replicaCount=2\nenv.FAIL_RATE="+rate))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("first install: exit %d, outputs %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	tracksRouteTo(t, c, ns, "stable@1.0.0")
	return c, ns
}

// An outage beside the canary — a dependency failing both tracks' requests at 30% — is not
// the canary's doing: with the stable track as its baseline (the default) the canary is not
// aborted, and the summary says both tracks; judged on the threshold alone (baseline: none)
// the same canary is aborted, as before.
func TestCanaryOutageOfBothTracks(t *testing.T) {
	t.Parallel()
	t.Run("baseline stable: not blamed", func(t *testing.T) {
		t.Parallel()
		c, ns := stableFailing(t, "0.3")
		r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.FAIL_RATE=0.3", "interval", "15s"))
		if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
			t.Fatalf("an innocent canary during an outage: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
		}
		contains(t, "the summary", r.Summary, "⚠️ both tracks above 5%")
		contains(t, "the summary", r.Summary, "not the canary's doing")
		contains(t, "the summary", r.Summary, "(stage 1)") // the last stage's baseline: the stable as last seen
		tracksRouteTo(t, c, ns, "stable@2.0.0")
	})
	t.Run("baseline none: the threshold alone", func(t *testing.T) {
		t.Parallel()
		c, ns := stableFailing(t, "0.3")
		r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.FAIL_RATE=0.3", "interval", "15s", "baseline", "none"))
		aborted(t, r, "analysis")
		contains(t, "the diagnosis", r.Outputs["diagnosis"], "above the 5% threshold")
		tracksRouteTo(t, c, ns, "stable@1.0.0")
	})
}

// A canary three times worse than the stable track is aborted although both are under the
// threshold (15% and 45% errors against 50%): the diagnosis names the comparison and both
// tracks' counts, and the stable track serves everything again.
func TestCanaryWorseThanStableUnderTheThreshold(t *testing.T) {
	t.Parallel()
	c, ns := stableFailing(t, "0.15")
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.FAIL_RATE=0.45", "interval", "90s", "error_threshold", "50"))
	aborted(t, r, "analysis")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "errors vs stable:")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "against the stable's 1")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "significantly more than 1.5× the stable's")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "decided after")
	contains(t, "the summary", r.Summary, "(errors vs stable, at")
	scaledDown(t, c, ns, "web-canary")
	tracksRouteTo(t, c, ns, "stable@1.0.0")
}

// A canary slower than the stable track is aborted on its latency distribution, with no
// latency_threshold set: the histograms' buckets of both tracks over the same window decide.
func TestCanarySlowerThanStable(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	r := runAction(t, canaryInputs(c, ns, "2.0.0", "set", "replicaCount=2\nenv.LATENCY_MS=300", "interval", "60s"))
	aborted(t, r, "analysis")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "of its requests slower than 250 ms against the stable's")
	contains(t, "the diagnosis", r.Outputs["diagnosis"], "decided after")
	backOnStable(t, c, ns)
}
