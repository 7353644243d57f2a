package canary

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

// The canary's cluster half on a fake session: every way a canary in flight ends — aborted,
// promoted, resumed by a later run, interrupted mid-promotion — as the writes it makes, in
// order, and what runs afterwards. The e2e suites prove the same paths on a real cluster;
// these prove the order of the writes in milliseconds.

// fixture is a session whose release has revision 1 (1.0.0, the stable track) and canary
// revision 2 (2.0.0), with web at stable and web-canary at canary replicas; the Lease's notes
// say the canary reached stage (1-based) of 25, 50, 100.
func fixture(t *testing.T, stable, canary int32, stage int) (*sessiontest.Fake, *Modes) {
	t.Helper()
	f := sessiontest.New(nil)
	l, err := ReadTracks(sessiontest.Web("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	canaryManifest, err := Canarize(sessiontest.Web("2.0.0"), l.Stable, l.Config)
	if err != nil {
		t.Fatal(err)
	}
	f.Releases = []*helmrelease.Release{
		{Name: "web", Version: 1, Manifest: sessiontest.Web("1.0.0"), Info: &helmrelease.Info{Status: helmrelease.StatusSuperseded}},
		{Name: "web", Version: 2, Manifest: canaryManifest, Labels: map[string]string{TrackLabel: TrackCanary},
			Info: &helmrelease.Info{Status: helmrelease.StatusDeployed}},
	}
	f.Deployment("web", stable, stable, map[string]string{"app": "web"})
	f.Deployment("web-canary", canary, canary, map[string]string{"app": "web", TrackLabel: TrackCanary})
	notes := map[string]string{kube.AnnotationStrategy: string(config.StrategyCanary), NoteStage: fmt.Sprint(stage),
		NoteStages: "25,50,100", NoteReplicas: "web=4"}
	return f, &Modes{Env: env(f), Previous: kube.Previous{Notes: notes}, Undo: func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithCancel(context.WithoutCancel(ctx))
	}}
}

func env(f *sessiontest.Fake) Env {
	cfg := config.Default()
	cfg.Namespace, cfg.Release, cfg.Stages, cfg.Interval = sessiontest.Namespace, "web", []int{25, 50, 100}, time.Millisecond
	return Env{Cluster: sessiontest.Cluster{F: f}, Session: f, Config: cfg}
}

// notReady makes every watch of the named Deployment end not Ready.
func notReady(name string) func(w release.Workloads) (health.Result, error) {
	return func(w release.Workloads) (health.Result, error) {
		if slices.Contains(w.Deployments, name) {
			return health.Result{Status: "0 of 4 ready"}, nil
		}
		return health.Result{Ready: true, Status: "ready"}, nil
	}
}

func TestModeAbort(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(f *sessiontest.Fake)
		status outcome.Status
		// canary is web-canary's replicas afterwards; order, the writes in order.
		canary int32
		order  []string
		never  string
		left   bool
	}{
		{name: "the stable track back and Ready before the canary goes",
			status: outcome.Aborted, canary: 0,
			order: []string{"record rolling-back 2", "scale web 4", "watch web", "scale web-canary 0", "mark 2 failed", "mark 1 deployed"}},
		{name: "a stable track that does not come back leaves the canary serving",
			setup:  func(f *sessiontest.Fake) { f.WatchFn = notReady("web") },
			status: outcome.Failed, canary: 2, left: true,
			order: []string{"record rolling-back 2", "scale web 4", "watch web"}, never: "scale web-canary 0"},
		{name: "a Lease that cannot be written changes nothing",
			setup:  func(f *sessiontest.Fake) { f.RecordErr = fmt.Errorf("the Lease is gone") },
			status: outcome.Failed, canary: 2, left: true, never: "scale web 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := fixture(t, 2, 2, 2)
			if tc.setup != nil {
				tc.setup(f)
			}
			m.Abort(context.Background(), 2, f.Releases)
			log := f.Log()
			sessiontest.InOrder(t, log, tc.order...)
			if tc.canary == 0 {
				sessiontest.Before(t, log, "watch web", "scale web-canary 0")
			}
			if tc.never != "" {
				sessiontest.Lacks(t, log, tc.never)
			}
			if f.Out.Status != tc.status || f.Left != tc.left {
				t.Errorf("status %s (left %v), want %s (left %v): %s", f.Out.Status, f.Left, tc.status, tc.left, f.Out.Message)
			}
			if got := f.Replicas("web-canary"); got != tc.canary {
				t.Errorf("web-canary at %d, want %d", got, tc.canary)
			}
		})
	}
}

func TestModePromote(t *testing.T) {
	t.Run("the last stage, then the stable track, then the canary goes", func(t *testing.T) {
		f, m := fixture(t, 2, 2, 2)
		f.ApplyFn = func(strategy.Apply) (string, error) { return f.Releases[1].Manifest, nil }
		m.Promote(context.Background(), 2, f.Releases)
		log := f.Log()
		sessiontest.InOrder(t, log, "scale web-canary 4", "watch web-canary", "scale web 0", "record deploying 2",
			"apply 3", "watch web", "scale web-canary 0")
		if f.Out.Status != outcome.Succeeded {
			t.Fatalf("status %s: %s", f.Out.Status, f.Out.Message)
		}
		// The promotion's revision keeps the canary at the replicas it serves with, and puts
		// the stable track back at its N (it was at 0 at the 100% stage).
		promo := f.Releases[2].Manifest
		l, err := ReadTracks(promo)
		if err != nil {
			t.Fatal(err)
		}
		if l.Replicas["web"] != 4 || !strings.Contains(l.Canary["web"], "replicas: 4") {
			t.Errorf("the promotion's manifest: stable at %d, canary:\n%s", l.Replicas["web"], l.Canary["web"])
		}
		if f.Replicas("web") != 4 || f.Replicas("web-canary") != 0 {
			t.Errorf("afterwards web %d, web-canary %d", f.Replicas("web"), f.Replicas("web-canary"))
		}
	})
	t.Run("a canary not Ready at the last stage is aborted: the stable track serves", func(t *testing.T) {
		f, m := fixture(t, 2, 2, 2)
		f.WatchFn = notReady("web-canary")
		m.Promote(context.Background(), 2, f.Releases)
		log := f.Log()
		sessiontest.InOrder(t, log, "scale web-canary 4", "watch web-canary", "record rolling-back 2", "scale web 4", "watch web", "scale web-canary 0", "mark 2 failed")
		sessiontest.Lacks(t, log, "scale web 0")
		sessiontest.Lacks(t, log, "apply 3")
		sessiontest.Before(t, log, "watch web", "scale web-canary 0")
		if f.Out.Status != outcome.RolledBack || f.Replicas("web") != 4 || f.Replicas("web-canary") != 0 {
			t.Errorf("status %s, web %d, web-canary %d: %s", f.Out.Status, f.Replicas("web"), f.Replicas("web-canary"), f.Out.Message)
		}
	})
	t.Run("a promotion that cannot be applied aborts the canary it would have promoted", func(t *testing.T) {
		f, m := fixture(t, 2, 2, 2)
		f.ApplyFn = func(strategy.Apply) (string, error) { return "", fmt.Errorf("the chart does not render") }
		m.Promote(context.Background(), 2, f.Releases)
		log := f.Log()
		sessiontest.InOrder(t, log, "scale web 0", "record rolling-back 2", "scale web 4", "watch web", "scale web-canary 0", "mark 2 failed")
		if f.Out.Status != outcome.RolledBack || !strings.Contains(f.Out.Message, "the chart does not render") {
			t.Errorf("status %s: %s", f.Out.Status, f.Out.Message)
		}
	})
}

// A later run finishes what an interrupted one left: a canary in its stages is aborted; a
// promotion keeps the canary serving until the stable track is Ready at its count.
func TestFinishInterrupted(t *testing.T) {
	t.Run("a canary in its stages is aborted, and counts as this run's undo", func(t *testing.T) {
		f, m := fixture(t, 3, 1, 1)
		wrote, err := m.Finish(context.Background(), 2, "the interrupted run", f.Releases)
		if err != nil || wrote {
			t.Fatalf("Finish: %v (wrote %v)", err, wrote)
		}
		sessiontest.InOrder(t, f.Log(), "record rolling-back 2", "scale web 4", "watch web", "scale web-canary 0", "mark 2 failed", "mark 1 deployed")
		sessiontest.Before(t, f.Log(), "watch web", "scale web-canary 0")
		if m.Undone() != 2 || !strings.Contains(f.Out.Recovered, "aborting it") || f.Out.Canary != nil {
			t.Errorf("undone %d, recovered %q, canary report %v", m.Undone(), f.Out.Recovered, f.Out.Canary)
		}
	})
	t.Run("someone moved on since: nothing is touched", func(t *testing.T) {
		f, m := fixture(t, 3, 1, 1)
		f.Releases = append(f.Releases, &helmrelease.Release{Name: "web", Version: 3, Manifest: sessiontest.Web("3.0.0"), Info: &helmrelease.Info{Status: helmrelease.StatusDeployed}})
		if _, err := m.Finish(context.Background(), 2, "the interrupted run", f.Releases); err != nil {
			t.Fatal(err)
		}
		if len(f.Log()) != 0 || m.Undone() != 0 {
			t.Errorf("writes %v, undone %d", f.Log(), m.Undone())
		}
	})
	t.Run("an abort that does not finish says it wrote", func(t *testing.T) {
		f, m := fixture(t, 3, 1, 1)
		f.WatchFn = notReady("web")
		wrote, err := m.Finish(context.Background(), 2, "the interrupted run", f.Releases)
		if err == nil || !wrote || f.Replicas("web-canary") != 1 {
			t.Errorf("Finish: %v (wrote %v), web-canary %d", err, wrote, f.Replicas("web-canary"))
		}
	})
	for _, unfinished := range []bool{false, true} {
		t.Run(fmt.Sprintf("a promotion, the engine's work unfinished %v", unfinished), func(t *testing.T) {
			f, m := fixture(t, 0, 4, 3)
			m.Notes[NotePromoting] = "2"
			finish := m.KeepServing(context.Background(), "the interrupted run")
			if err := finish(context.Background(), unfinished); err != nil {
				t.Fatal(err)
			}
			log := f.Log()
			keep := `patch deployments web-canary {"metadata":{"annotations":{"helm.sh/resource-policy":"keep"}}}`
			if unfinished {
				sessiontest.InOrder(t, log, keep)
				sessiontest.Lacks(t, log, "scale web-canary 0")
				if f.Replicas("web-canary") != 4 {
					t.Errorf("web-canary at %d: it must keep serving", f.Replicas("web-canary"))
				}
				return
			}
			sessiontest.InOrder(t, log, keep, "scale web 4", "watch web", `patch deployments web-canary {"metadata":{"annotations":{"helm.sh/resource-policy":null}},"spec":{"replicas":0}}`)
		})
	}
}

// A deploy, end to end through the flow: each stage scales the canary up and sees it Ready
// before the stable track comes down; a stage that fails brings the stable track back Ready
// before the canary goes.
func TestDeployStages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  bool
		order []string
	}{
		{name: "every stage passes", order: []string{"apply 2", "record deploying 2",
			"scale web-canary 1", "watch web-canary", "scale web 3",
			"scale web-canary 2", "watch web-canary", "scale web 2",
			"scale web-canary 4", "watch web-canary", "scale web 0",
			"apply 3", "watch web", "scale web-canary 0"}},
		{name: "the 50% stage's canary is not Ready", fail: true, order: []string{"apply 2",
			"scale web-canary 1", "watch web-canary", "scale web 3",
			"scale web-canary 2", "watch web-canary", "record rolling-back 2", "scale web 4", "watch web", "scale web-canary 0", "mark 2 failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sessiontest.New(nil)
			f.Releases = []*helmrelease.Release{{Name: "web", Version: 1, Manifest: sessiontest.Web("1.0.0"), Info: &helmrelease.Info{Status: helmrelease.StatusDeployed}}}
			f.Deployment("web", 4, 4, map[string]string{"app": "web"})
			f.ApplyFn = func(a strategy.Apply) (string, error) { return sessiontest.Web("2.0.0"), nil }
			if tc.fail {
				f.WatchFn = canaryNotReadyAtWatch(2)
			}
			e := env(f)
			ctx := context.Background()
			plan, err := PlanDeploy(ctx, e, sessiontest.Web("1.0.0"), true)
			if err != nil {
				t.Fatal(err)
			}
			c := NewCluster(e, plan)
			k := Strategy{AutoPromote: true}
			res := k.Deploy(ctx, c)
			if (res.Failure != nil) != tc.fail {
				t.Fatalf("failure %+v", res.Failure)
			}
			if res.Failure != nil {
				k.Undo(ctx, c, res.Failure)
			}
			sessiontest.InOrder(t, f.Log(), tc.order...)
			if tc.fail {
				sessiontest.Before(t, f.Log(), "watch web", "scale web-canary 0")
			}
			if f.Replicas("web") != 4 || f.Replicas("web-canary") != 0 {
				t.Errorf("afterwards web %d, web-canary %d", f.Replicas("web"), f.Replicas("web-canary"))
			}
		})
	}
}

// A canary that failed its metrics is taken out of traffic as soon as the stable track can
// carry it: at once where stable pods are Ready, only after the stable track is back Ready at
// the 100% stage (no stable pod serves there): the Service never loses its last endpoint.
func TestMetricsAbortTakesTheCanaryOutFirst(t *testing.T) {
	metrics := &health.Result{Signals: []diagnose.Signal{{Category: diagnose.Analysis, Reason: "ErrorRate", Message: "errors"}}}
	for _, tc := range []struct {
		name           string
		stable, canary int32
		stage          int
		first, then    string
	}{
		{name: "stable pods Ready: the canary goes at once", stable: 2, canary: 2, stage: 2, first: "scale web-canary 0", then: "watch web"},
		{name: "the 100% stage: the stable track first", stable: 0, canary: 4, stage: 3, first: "watch web", then: "scale web-canary 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := fixture(t, tc.stable, tc.canary, tc.stage)
			c, _, err := m.fromLease(f.Releases, 2)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Abort(context.Background(), &strategy.Failure{Revision: 2, Canary: true, Stage: tc.stage - 1, Result: metrics}); err != nil {
				t.Fatal(err)
			}
			sessiontest.Before(t, f.Log(), tc.first, tc.then)
			if f.Replicas("web") != 4 || f.Replicas("web-canary") != 0 {
				t.Errorf("afterwards web %d, web-canary %d", f.Replicas("web"), f.Replicas("web-canary"))
			}
		})
	}
}

// Mode promote of a canary whose chart cannot be found again changes nothing: the canary
// keeps waiting at its weight for a later promote or abort.
func TestModePromoteWithoutItsChart(t *testing.T) {
	f, m := fixture(t, 2, 2, 2)
	f.Releases[1].Chart = nil
	m.Session = chartless{f}
	m.Promote(context.Background(), 2, f.Releases)
	if log := f.Log(); len(log) != 0 || f.Out.Status != outcome.Failed || !strings.Contains(f.Out.Message, "nothing was changed") {
		t.Errorf("writes %v; status %s: %s", log, f.Out.Status, f.Out.Message)
	}
}

// chartless is a session that cannot find a revision's chart again.
type chartless struct{ *sessiontest.Fake }

func (chartless) ChartOf(context.Context, *helmrelease.Release) (*chart.Chart, error) {
	return nil, fmt.Errorf("revision 2's chart has dependencies, which Helm does not keep with a release")
}

// canaryNotReadyAtWatch is a WatchFn under which the canary's nth watch finds it not Ready
// (a stage that fails) and every other watch finds what it watches Ready.
func canaryNotReadyAtWatch(n int) func(release.Workloads) (health.Result, error) {
	watches := 0
	return func(w release.Workloads) (health.Result, error) {
		if slices.Contains(w.Deployments, "web-canary") {
			if watches++; watches == n {
				return health.Result{Status: "1 of 2 ready"}, nil
			}
		}
		return health.Result{Ready: true}, nil
	}
}
