package bluegreen

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

// Blue-green's cluster half on a fake session: every way a colour in flight ends — promoted,
// aborted, failing its smoke tests or its grace period, switched back by another run, rolled
// back, finished by a later run — as the writes it makes, in order, and what serves
// afterwards. The e2e suites prove the same paths on a real cluster and data plane.

// fixture is a release whose revision 1 (1.0.0) runs on blue and serves, and whose revision 2
// (2.0.0) runs on green at green replicas; the Lease says phase at revision 2, green beside
// blue.
func fixture(t *testing.T, green int32, phase kube.Phase) (*sessiontest.Fake, *Modes) {
	t.Helper()
	f := sessiontest.New(nil)
	rev1, err := Colorize(sessiontest.Web("1.0.0"), Blue, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := ReadLayout(rev1)
	if err != nil {
		t.Fatal(err)
	}
	rev2, err := Colorize(sessiontest.Web("2.0.0"), Green, Blue, l1.Colored[Blue], map[string]int{"web": 4})
	if err != nil {
		t.Fatal(err)
	}
	f.Releases = []*helmrelease.Release{
		{Name: "web", Version: 1, Manifest: rev1, Labels: map[string]string{ColorLabel: "blue"}, Info: &helmrelease.Info{Status: helmrelease.StatusSuperseded}},
		{Name: "web", Version: 2, Manifest: rev2, Labels: map[string]string{ColorLabel: "green"}, Info: &helmrelease.Info{Status: helmrelease.StatusDeployed}},
	}
	f.Deployment("web-blue", 4, 4, map[string]string{"app": "web", ColorLabel: "blue"})
	f.Deployment("web-green", green, green, map[string]string{"app": "web", ColorLabel: "green"})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: sessiontest.Namespace},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web", ColorLabel: "blue"}}}
	if err := f.Typed.Tracker().Add(svc); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Namespace, cfg.Release, cfg.Strategy, cfg.GracePeriod, cfg.VerifyDuration = sessiontest.Namespace, "web", config.StrategyBlueGreen, time.Millisecond, time.Millisecond
	prev := kube.Previous{Phase: phase, Revision: "2", Notes: map[string]string{kube.AnnotationStrategy: string(config.StrategyBlueGreen),
		NoteColor: "green", NoteFromColor: "blue"}}
	m := &Modes{Env: Env{Cluster: sessiontest.Cluster{F: f}, Session: f, Config: cfg, Previous: prev, Locked: true},
		Undo: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(context.WithoutCancel(ctx))
		}}
	m.AbortAwaiting = func(ctx context.Context) { m.Abort(ctx, 2, f.Releases) }
	return f, m
}

// pointAt points Service web at colour col, as a switch does.
func pointAt(f *sessiontest.Fake, col string) error {
	_, err := f.Typed.CoreV1().Services(sessiontest.Namespace).Patch(context.Background(), "web", "application/merge-patch+json",
		[]byte(`{"spec":{"selector":{"shepherd.io/color":"`+col+`"}}}`), metav1.PatchOptions{})
	return err
}

// serves is the colour Service web selects.
func serves(t *testing.T, f *sessiontest.Fake) string {
	t.Helper()
	svc, err := f.Typed.CoreV1().Services(sessiontest.Namespace).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc.Spec.Selector[ColorLabel]
}

const (
	toGreen   = `patch services web {"spec":{"selector":{"shepherd.io/color":"green"}}}`
	toBlue    = `patch services web {"spec":{"selector":{"shepherd.io/color":"blue"}}}`
	greenDown = `patch deployments web-green {"metadata":{"annotations":{"shepherd.io/replicas":"4"}},"spec":{"replicas":0}}`
	blueDown  = `patch deployments web-blue {"metadata":{"annotations":{"shepherd.io/replicas":"4"}},"spec":{"replicas":0}}`
)

func TestModePromoteAndAbort(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(f *sessiontest.Fake)
		abort  bool
		status outcome.Status
		serves string
		order  []string
		never  string
		says   string
	}{
		{name: "promote: checked, switched, watched, then the old colour goes",
			status: outcome.Succeeded, serves: "green",
			order: []string{"watch web-green", "smoke web-green", "record switched 2", toGreen, "record done 2", blueDown}},
		{name: "promote: failed smoke tests never take traffic",
			setup:  func(f *sessiontest.Fake) { f.SmokeFn = smokeFails },
			status: outcome.RolledBack, serves: "blue",
			order: []string{"smoke web-green", greenDown, "mark 2 failed", "mark 1 deployed"}, never: toGreen},
		{name: "promote: a failure in the grace period switches back to the warm colour",
			setup:  func(f *sessiontest.Fake) { f.SteadyFn = restarts },
			status: outcome.RolledBack, serves: "blue",
			order: []string{toGreen, "record rolling-back 2", toBlue, greenDown, "mark 2 failed"}, never: blueDown},
		{name: "promote: another run switched back meanwhile; this one leaves traffic where it put it",
			setup:  switchedBackDuringGrace,
			status: outcome.RolledBack, serves: "blue",
			order: []string{toGreen, greenDown}, never: "record done 2", says: "switched back to blue by ops"},
		{name: "abort: the waiting colour goes, traffic never moved",
			abort: true, status: outcome.Aborted, serves: "blue",
			order: []string{"record rolling-back 2", greenDown, "mark 2 failed", "mark 1 deployed"}, never: toGreen},
		{name: "abort: a Lease that cannot be written changes nothing",
			abort: true, setup: func(f *sessiontest.Fake) { f.RecordErr = fmt.Errorf("the Lease is gone") },
			status: outcome.Failed, serves: "blue", never: greenDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := fixture(t, 4, kube.PhaseAwaitingPromotion)
			if tc.setup != nil {
				tc.setup(f)
			}
			if tc.abort {
				m.Abort(context.Background(), 2, f.Releases)
			} else {
				m.Promote(context.Background(), 2, f.Releases)
			}
			log := f.Log()
			sessiontest.InOrder(t, log, tc.order...)
			if tc.never != "" {
				sessiontest.Lacks(t, log, tc.never)
			}
			if f.Out.Status != tc.status || serves(t, f) != tc.serves {
				t.Errorf("status %s, serving %s; want %s, %s: %s", f.Out.Status, serves(t, f), tc.status, tc.serves, f.Out.Message)
			}
		})
	}
}

// switchedBackDuringGrace plays a rollback run that, during the grace period, notes on the
// Lease who switches back and points the Service at blue (as SwitchBackNow does).
func switchedBackDuringGrace(f *sessiontest.Fake) {
	f.SteadyFn = func([]string) (*diagnose.Signal, error) {
		f.Notes[NoteSwitchedBy] = "ops"
		return nil, pointAt(f, "blue")
	}
}

func smokeFails([]string, *strategy.SmokeVia) *diagnose.Signal {
	return &diagnose.Signal{Category: diagnose.HealthCheck, Reason: strategy.SmokeReason, Message: "GET /healthz: 500"}
}

func restarts([]string) (*diagnose.Signal, error) {
	return &diagnose.Signal{Category: diagnose.CrashLoop, Reason: "Restarted", Message: "web-green-1 restarted"}, nil
}

// A rollback is a switch back: the other colour Ready at its count first (scaled up from zero
// when it was scaled down), then the Services, then the colour left goes to zero.
func TestRollbackIsASwitch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ready  bool
		status outcome.Status
		serves string
		order  []string
	}{
		{name: "blue back up, then the switch", ready: true, status: outcome.RolledBack, serves: "blue",
			order: []string{`patch deployments web-blue {"spec":{"replicas":4}}`, "watch web-blue", "record rolling-back 2", toBlue, greenDown, "mark 2 failed"}},
		{name: "blue does not come back: traffic stays on green", status: outcome.Failed, serves: "green",
			order: []string{`patch deployments web-blue {"spec":{"replicas":4}}`, "watch web-blue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := fixture(t, 4, kube.PhaseDone)
			ctx := context.Background()
			// green serves; blue was scaled down after the grace period
			if err := pointAt(f, "green"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Typed.AppsV1().Deployments(sessiontest.Namespace).Patch(ctx, "web-blue", "application/merge-patch+json",
				[]byte(`{"metadata":{"annotations":{"shepherd.io/replicas":"4"}},"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			f.Releases[0].Info.Status, f.Releases[1].Info.Status = helmrelease.StatusSuperseded, helmrelease.StatusDeployed
			f.Reset()
			if !tc.ready {
				f.WatchFn = func(w release.Workloads) (health.Result, error) {
					return health.Result{Status: "0 of 4 ready", Signals: []diagnose.Signal{{Category: diagnose.ImagePull, Reason: "ErrImagePull"}}}, nil
				}
			}
			m.Rollback(ctx, f.Releases)
			log := f.Log()
			sessiontest.InOrder(t, log, tc.order...)
			if !tc.ready {
				sessiontest.Lacks(t, log, toBlue)
				sessiontest.Lacks(t, log, greenDown)
			}
			if f.Out.Status != tc.status || serves(t, f) != tc.serves {
				t.Errorf("status %s, serving %s; want %s, %s: %s", f.Out.Status, serves(t, f), tc.status, tc.serves, f.Out.Message)
			}
		})
	}
}

// A later run finishes what an interrupted blue-green run left, as the Lease's phase says.
func TestFinishInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		phase   kube.Phase
		live    string // the colour the Services select when the run died
		healthy bool
		serves  string
		order   []string
		never   string
		undone  string
	}{
		{name: "mid-deploy: the new colour never took traffic and goes to 0", phase: kube.PhaseDeploying, live: "blue", serves: "blue",
			order: []string{"record rolling-back 2", greenDown, "mark 2 failed", "mark 1 deployed"}, never: toGreen},
		{name: "in its grace period, healthy: it keeps the traffic", phase: kube.PhaseSwitched, live: "green", healthy: true, serves: "green",
			order: []string{"watch web-green", toGreen}, never: greenDown},
		{name: "in its grace period, unhealthy: back to blue, Ready first", phase: kube.PhaseSwitched, live: "green", serves: "blue", undone: "blue",
			order: []string{"watch web-green", "record rolling-back 2", "watch web-blue", toBlue, greenDown, "mark 2 failed"}},
		{name: "a switch back cut short is finished", phase: kube.PhaseRollingBack, live: "green", serves: "blue", undone: "blue",
			order: []string{"record rolling-back 2", "watch web-blue", toBlue, greenDown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := fixture(t, 4, tc.phase)
			ctx := context.Background()
			if tc.live == "green" {
				if err := pointAt(f, "green"); err != nil {
					t.Fatal(err)
				}
				f.Reset()
			}
			f.WatchFn = func(w release.Workloads) (health.Result, error) {
				if slices.Contains(w.Deployments, "web-green") && !tc.healthy {
					return health.Result{Status: "2 of 4 ready"}, nil
				}
				return health.Result{Ready: true}, nil
			}
			wrote, err := m.Finish(ctx, 2, "the interrupted run", f.Releases)
			if err != nil || wrote {
				t.Fatalf("Finish: %v (wrote %v)", err, wrote)
			}
			log := f.Log()
			sessiontest.InOrder(t, log, tc.order...)
			if tc.never != "" {
				sessiontest.Lacks(t, log, tc.never)
			}
			if serves(t, f) != tc.serves || m.Undone() != tc.undone || f.Out.Recovered == "" {
				t.Errorf("serving %s, undone %q, recovered %q; want %s, %q", serves(t, f), m.Undone(), f.Out.Recovered, tc.serves, tc.undone)
			}
		})
	}
}

// A rollback while another run holds the release in its grace period switches back at once,
// without the lock: it notes on the Lease who switches (the holder notices, scales green down
// and marks its revision failed), and only when the holder is still in its grace period.
func TestSwitchBackNow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		phase  kube.Phase
		now    bool
		serves string
	}{
		{name: "in its grace period: switched back now", phase: kube.PhaseSwitched, now: true, serves: "blue"},
		{name: "still deploying: the rollback waits for the lock", phase: kube.PhaseDeploying, serves: "green"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := fixture(t, 4, kube.PhaseDone)
			ctx := context.Background()
			if err := pointAt(f, "green"); err != nil {
				t.Fatal(err)
			}
			holder, err := kube.Acquire(ctx, f.Typed, sessiontest.Namespace, "web", "run-1", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Release(context.WithoutCancel(ctx), "")
			if err := holder.SetState(ctx, tc.phase, 2, map[string]string{kube.AnnotationStrategy: string(config.StrategyBlueGreen),
				NoteColor: "green", NoteFromColor: "blue"}); err != nil {
				t.Fatal(err)
			}
			m.Locked, m.Previous = false, kube.Previous{}
			m.Config.Reason = "a bad release"
			f.Reset()
			if got := m.SwitchBackNow(ctx); got != tc.now {
				t.Fatalf("SwitchBackNow = %v, want %v (%s)", got, tc.now, f.Out.Message)
			}
			if serves(t, f) != tc.serves {
				t.Errorf("serving %s, want %s", serves(t, f), tc.serves)
			}
			st, err := kube.Peek(ctx, f.Typed, sessiontest.Namespace, "web")
			if err != nil {
				t.Fatal(err)
			}
			if by := st.Notes[NoteSwitchedBy]; (by != "") != tc.now || (tc.now && f.Out.Status != outcome.RolledBack) {
				t.Errorf("the Lease says switched by %q; status %s: %s", by, f.Out.Status, f.Out.Message)
			}
		})
	}
}
