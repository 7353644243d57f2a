package canary

import (
	"context"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

// After a promotion the stable track runs the promotion's revision: the next canary's abort
// names it as what serves 100% again, and marks it deployed. Revision 1 is the stable track,
// canary 2 is promoted (revision 3), then canary 4 fails its second stage and is aborted. Helm
// gives revision 3 the labels of revision 2 unless told otherwise (the fake does as Helm does).
func TestAbortAfterAPromotionNamesThePromotedRevision(t *testing.T) {
	f, m := fixture(t, 2, 2, 2)
	f.ApplyFn = func(strategy.Apply) (string, error) { return f.Releases[1].Manifest, nil }
	ctx := context.Background()
	m.Promote(ctx, 2, f.Releases)
	if len(f.Releases) != 3 {
		t.Fatalf("the promotion wrote %d revisions: %s", len(f.Releases)-2, f.Out.Message)
	}
	if ranCanary(f.Releases[2]) {
		t.Errorf("the promotion's revision 3 is labelled as a canary's (%v): it runs the stable track", f.Releases[2].Labels)
	}

	f.ApplyFn = func(strategy.Apply) (string, error) { return sessiontest.Web("3.0.0"), nil }
	f.WatchFn = canaryNotReadyAtWatch(2)
	e := env(f)
	plan, err := PlanDeploy(ctx, e, f.Releases[2].Manifest, true)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCluster(e, plan)
	k := Strategy{AutoPromote: true}
	res := k.Deploy(ctx, c)
	if res.Failure == nil || res.Failure.Revision != 4 {
		t.Fatalf("canary 4 did not fail: %+v", res.Failure)
	}
	k.Undo(ctx, c, res.Failure)
	if want := "the stable track (revision 3) serves 100% again"; !strings.Contains(f.Out.Message, want) {
		t.Errorf("the abort says %q, want it to say %q", f.Out.Message, want)
	}
	if st := f.Releases[2].Info.Status; st != "deployed" {
		t.Errorf("revision 3 is %s after the abort, want deployed again", st)
	}
}
