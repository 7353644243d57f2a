package canary

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

// fakeTracks plays the orchestrator for the canary: scripted answers, a log of calls.
type fakeTracks struct {
	sessiontest.Script
	first    bool
	stages   int
	failAt   int // the stage whose judge fails (-1: none)
	failSig  diagnose.Category
	notReady int // the stage whose scale-up never gets ready (-1: none)
	promote  strategy.Revision
}

func (f *fakeTracks) FirstInstall() bool { return f.first }
func (f *fakeTracks) Stages() int        { return f.stages }
func (f *fakeTracks) UpgradeCanary(context.Context) (strategy.Revision, error) {
	f.Calls = append(f.Calls, "canary")
	return f.UpgradeRev, f.UpgradeErr
}
func (f *fakeTracks) SetStage(_ context.Context, i int) (health.Result, error) {
	f.Calls = append(f.Calls, fmt.Sprintf("stage%d", i+1))
	if i == f.notReady {
		return health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}, nil
	}
	return health.Result{Ready: true}, nil
}
func (f *fakeTracks) Judge(_ context.Context, i int) (*diagnose.Signal, error) {
	f.Calls = append(f.Calls, fmt.Sprintf("judge%d", i+1))
	if i == f.failAt {
		return &diagnose.Signal{Category: f.failSig, Reason: "ErrorRate"}, nil
	}
	return nil, nil
}
func (f *fakeTracks) Pause(_ context.Context, rev, i int) {
	f.Calls = append(f.Calls, fmt.Sprintf("pause %d after stage%d", rev, i+1))
}
func (f *fakeTracks) PromoteStable(context.Context) (strategy.Revision, error) {
	f.Calls = append(f.Calls, "promote")
	return f.promote, nil
}
func (f *fakeTracks) Retire(context.Context) error {
	f.Calls = append(f.Calls, "retire")
	return nil
}
func (f *fakeTracks) Abort(context.Context, *strategy.Failure) error {
	f.Calls = append(f.Calls, "abort")
	return nil
}
func (f *fakeTracks) Diagnose(context.Context, *strategy.Failure) {
	f.Calls = append(f.Calls, "diagnose")
}
func (f *fakeTracks) Settle(_ context.Context, fl *strategy.Failure, _ error) {
	f.Calls = append(f.Calls, fmt.Sprintf("settle stage%d", fl.Stage+1))
}

func TestCanary(t *testing.T) {
	wl := release.Workloads{Deployments: []string{"web-canary"}}
	ready := health.Result{Ready: true}
	base := func() fakeTracks {
		return fakeTracks{Script: sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2, Workloads: wl}, WatchRes: ready}, stages: 3, failAt: -1, notReady: -1,
			promote: strategy.Revision{Number: 3, Workloads: release.Workloads{Deployments: []string{"web"}}}}
	}
	for _, tc := range []struct {
		name   string
		edit   func(*fakeTracks)
		auto   bool
		deploy string // the calls of Deploy
		undo   string // the calls of Undo ("" when Deploy succeeded or paused)
		paused bool
	}{
		{"every stage passes: promoted, the canary retired", nil, true,
			"canary stage1 judge1 stage2 judge2 stage3 judge3 promote watch health retire", "", false},
		{"metrics fail at stage 2: traffic off the canary first, then the diagnosis", func(f *fakeTracks) { f.failAt, f.failSig = 1, diagnose.Analysis }, true,
			"canary stage1 judge1 stage2 judge2", "abort diagnose settle stage2", false},
		{"pods fail during stage 1: diagnosed while the evidence exists", func(f *fakeTracks) { f.failAt, f.failSig = 0, diagnose.CrashLoop }, true,
			"canary stage1 judge1", "diagnose abort settle stage1", false},
		{"the canary never gets ready", func(f *fakeTracks) { f.notReady = 0 }, true,
			"canary stage1", "diagnose abort settle stage1", false},
		{"the gate: paused after the last stage below 100%", nil, false,
			"canary stage1 judge1 stage2 judge2 pause 2 after stage2", "", true},
		{"the promotion fails its rollout: a Helm rollback", func(f *fakeTracks) {
			f.WatchRes = health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}
		}, true,
			"canary stage1 judge1 stage2 judge2 stage3 judge3 promote watch", "rollback 3", false},
		{"first install: a rolling deploy", func(f *fakeTracks) { f.first = true }, true,
			"info canary upgrade watch info watch health", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			if tc.edit != nil {
				tc.edit(&f)
			}
			k := Strategy{AutoPromote: tc.auto}
			res := k.Deploy(context.Background(), &f)
			if got := strings.Join(f.Calls, " "); got != tc.deploy {
				t.Fatalf("deploy calls:\n got %s\nwant %s", got, tc.deploy)
			}
			if res.Paused != tc.paused {
				t.Fatalf("paused %v, want %v", res.Paused, tc.paused)
			}
			if (res.Failure == nil) != (tc.undo == "") {
				t.Fatalf("failure %+v, want undo %q", res.Failure, tc.undo)
			}
			if res.Failure == nil {
				return
			}
			f.Calls = nil
			k.Undo(context.Background(), &f, res.Failure)
			if got := strings.Join(f.Calls, " "); got != tc.undo {
				t.Errorf("undo calls:\n got %s\nwant %s", got, tc.undo)
			}
		})
	}
}

// Resume is mode promote: from the stage after the one the gate stopped at, to promotion.
func TestCanaryResume(t *testing.T) {
	f := fakeTracks{Script: sessiontest.Script{WatchRes: health.Result{Ready: true}}, stages: 5, failAt: -1, notReady: -1, promote: strategy.Revision{Number: 4}}
	if res := (Strategy{AutoPromote: true}).Resume(context.Background(), &f, 3, 4); res.Failure != nil || res.Paused {
		t.Fatalf("%+v", res)
	}
	if got := strings.Join(f.Calls, " "); got != "stage5 judge5 promote watch health retire" {
		t.Errorf("calls %s", got)
	}
}
