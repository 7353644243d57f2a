package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
)

// fakeHelm keeps a history in memory; a rollback appends a copy of the target as deployed.
type fakeHelm struct {
	hist   []*helmrelease.Release
	failed map[int]string
}

func (f *fakeHelm) History(string) ([]*helmrelease.Release, error) { return f.hist, nil }

func (f *fakeHelm) Rollback(_ context.Context, _ string, rev int, desc string) (*helmrelease.Release, error) {
	for _, h := range f.hist {
		if h.Version == rev {
			n := &helmrelease.Release{Version: len(f.hist) + 1, Manifest: h.Manifest,
				Info: &helmrelease.Info{Status: helmrelease.StatusDeployed, Description: desc}}
			f.hist = append(f.hist, n)
			return n, nil
		}
	}
	return nil, fmt.Errorf("no revision %d", rev)
}

func (f *fakeHelm) MarkFailed(_ string, rev int, desc string) error {
	f.failed[rev] = desc
	f.hist[rev-1].Info.Status = helmrelease.StatusFailed
	return nil
}

// fakeWatcher says a rollout is ready unless its manifest names a bad image.
type fakeWatcher struct{ h *fakeHelm }

func (w fakeWatcher) Watch(_ context.Context, t health.Target) (health.Result, error) {
	last := w.h.hist[len(w.h.hist)-1]
	if strings.Contains(last.Manifest, "bad") {
		return health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop, Reason: "CrashLoopBackOff"}}}, nil
	}
	return health.Result{Ready: true}, nil
}

func history(manifests ...string) *fakeHelm {
	f := &fakeHelm{failed: map[int]string{}}
	for i, m := range manifests {
		st := helmrelease.StatusSuperseded
		if i == len(manifests)-1 {
			st = helmrelease.StatusDeployed
		}
		f.hist = append(f.hist, &helmrelease.Release{Version: i + 1, Manifest: manifest(m), Info: &helmrelease.Info{Status: st}})
	}
	return f
}

// manifest is a one-Deployment release manifest whose image is tag.
func manifest(tag string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: example/web:" + tag + "\n"
}

func desc(t int) string { return fmt.Sprint("to ", t) }

func TestCascade(t *testing.T) {
	cases := []struct {
		name       string
		manifests  []string
		target     int
		maxCascade int
		wantChain  []int // targets tried
		wantOK     bool
		wantErr    error
	}{
		{"previous is good", []string{"v1", "v2"}, 0, 2, []int{1}, true, nil},
		{"previous bad, cascades once", []string{"v1", "bad", "v3"}, 0, 2, []int{2, 1}, true, nil},
		{"named target bad, cascades below it", []string{"v1", "v2", "bad", "v4"}, 3, 2, []int{3, 2}, true, nil},
		{"no cascade allowed", []string{"v1", "bad", "v3"}, 0, 0, []int{2}, false, nil},
		{"bound reached: 1+max_cascade attempts", []string{"v1", "bad", "bad2", "v4"}, 0, 1, []int{3, 2}, false, nil},
		{"nothing good below", []string{"v1"}, 0, 2, nil, false, ErrNoGoodRevision},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := history(tc.manifests...)
			if tc.name == "bound reached: 1+max_cascade attempts" {
				h.hist[2].Manifest = manifest("bad-too") // two bad revisions in a row
			}
			r := Rollbacker{Helm: h, Watcher: fakeWatcher{h}, Namespace: "ns"}
			chain, err := r.Cascade(context.Background(), "web", len(tc.manifests), tc.target, tc.maxCascade, desc, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var got []int
			for _, a := range chain {
				got = append(got, a.Target)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantChain) {
				t.Fatalf("targets tried %v, want %v", got, tc.wantChain)
			}
			ok := len(chain) > 0 && chain[len(chain)-1].Verified()
			if ok != tc.wantOK {
				t.Fatalf("verified = %v, want %v", ok, tc.wantOK)
			}
			for _, a := range chain {
				if _, marked := h.failed[a.NewRevision]; marked == a.Verified() {
					t.Errorf("attempt to %d (new %d): verified %v but marked failed %v", a.Target, a.NewRevision, a.Verified(), marked)
				}
			}
		})
	}
}

// A verify function's problem fails an attempt whose rollout was ready.
func TestCascadeVerifyProblem(t *testing.T) {
	h := history("v1", "v2", "v3")
	calls := 0
	verify := func(_ context.Context, a Attempt) *diagnose.Signal {
		calls++
		if a.Target == 2 {
			return &diagnose.Signal{Category: diagnose.HealthCheck, Reason: "Unhealthy"}
		}
		return nil
	}
	r := Rollbacker{Helm: h, Watcher: fakeWatcher{h}}
	chain, err := r.Cascade(context.Background(), "web", 3, 0, 2, desc, verify)
	if err != nil || len(chain) != 2 || chain[0].Verified() || !chain[1].Verified() || chain[1].Target != 1 || calls != 2 {
		t.Fatalf("chain %+v err %v calls %d", chain, err, calls)
	}
	if h.hist[chain[0].NewRevision-1].Info.Status != helmrelease.StatusFailed {
		t.Error("the failed rollback's revision was not marked failed")
	}
}

// The revision being left is marked failed once a rollback has been applied over it, never
// before; when the rollback cannot even be applied, it stays what it is (what the cluster runs).
func TestCascadeMarksReplacedRevisionOnlyAfterApply(t *testing.T) {
	h := history("v1", "bad")
	r := Rollbacker{Helm: h, Watcher: fakeWatcher{h}, Replaces: 2, ReplacesWhy: "crash-loop"}
	if _, err := r.Cascade(context.Background(), "web", 2, 0, 0, desc, nil); err != nil {
		t.Fatal(err)
	}
	if h.failed[2] != "crash-loop" {
		t.Errorf("revision 2 not marked failed after the rollback: %v", h.failed)
	}

	h = history("v1", "bad")
	r = Rollbacker{Helm: refusingHelm{h}, Watcher: fakeWatcher{h}, Replaces: 2, ReplacesWhy: "crash-loop"}
	if _, err := r.Cascade(context.Background(), "web", 2, 0, 0, desc, nil); err == nil {
		t.Fatal("a refused rollback returned no error")
	}
	if _, marked := h.failed[2]; marked {
		t.Error("revision 2 was marked failed though no rollback replaced it")
	}

	h = history("v1", "bad")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = Rollbacker{Helm: h, Watcher: fakeWatcher{h}, Replaces: 2}
	if _, err := r.Cascade(ctx, "web", 2, 0, 0, desc, nil); !errors.Is(err, context.Canceled) || len(h.hist) != 2 {
		t.Errorf("a stopped cascade: err %v, %d revisions (want context.Canceled and nothing written)", err, len(h.hist))
	}
}

// refusingHelm refuses every rollback, as an admission policy would.
type refusingHelm struct{ *fakeHelm }

func (refusingHelm) Rollback(context.Context, string, int, string) (*helmrelease.Release, error) {
	return nil, errors.New("admission webhook denied the request")
}

// A revision the strategies call no version of its own (a canary's) is passed over; the
// rollbacker knows no strategy, only the predicate it is given.
func TestToLastGoodPassesOverWhatIsNoVersion(t *testing.T) {
	h := history("v1", "canary", "v3")
	notAVersion := func(r *helmrelease.Release) bool { return strings.Contains(r.Manifest, "canary") }
	a, err := Rollbacker{Helm: h, Watcher: fakeWatcher{h}, NotAVersion: notAVersion}.ToLastGood(context.Background(), "web", 3, "d")
	if err != nil || a.Target != 1 {
		t.Errorf("rolled back to %d (%v), want 1: revision 2 is a canary's", a.Target, err)
	}
	h = history("v1", "canary", "v3")
	if a, err := (Rollbacker{Helm: h, Watcher: fakeWatcher{h}}).ToLastGood(context.Background(), "web", 3, "d"); err != nil || a.Target != 2 {
		t.Errorf("without the predicate: rolled back to %d (%v), want 2", a.Target, err)
	}
}
