package bluegreen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

// fakeColors plays the orchestrator for blue-green: scripted answers, a log of calls.
type fakeColors struct {
	sessiontest.Script
	active    strategy.Color
	smokeFail bool
	steadySig bool
	steadyBy  string
	commitBy  string
	scaleUp   health.Result
	switchErr error
}

func (f *fakeColors) Active(context.Context) (strategy.Color, error) { return f.active, nil }
func (f *fakeColors) UpgradeColor(_ context.Context, next, active strategy.Color) (strategy.Revision, error) {
	f.Calls = append(f.Calls, fmt.Sprintf("upgrade %s beside %q", next, active))
	return f.UpgradeRev, f.UpgradeErr
}
func (f *fakeColors) Smoke(_ context.Context, c strategy.Color) *diagnose.Signal {
	f.Calls = append(f.Calls, "smoke "+string(c))
	if f.smokeFail {
		return &diagnose.Signal{Category: diagnose.HealthCheck, Reason: "SmokeTestFailed"}
	}
	return nil
}
func (f *fakeColors) Switch(_ context.Context, to, _ strategy.Color, _ int) error {
	f.Calls = append(f.Calls, "switch "+string(to))
	return f.switchErr
}
func (f *fakeColors) Steady(_ context.Context, c strategy.Color, d time.Duration) (*diagnose.Signal, string, error) {
	f.Calls = append(f.Calls, fmt.Sprintf("steady %s %s", c, d))
	if f.steadySig {
		return &diagnose.Signal{Category: diagnose.CrashLoop}, "", nil
	}
	return nil, f.steadyBy, nil
}
func (f *fakeColors) Commit(context.Context, int, strategy.Color, strategy.Color) (string, error) {
	f.Calls = append(f.Calls, "commit")
	return f.commitBy, nil
}
func (f *fakeColors) ScaleDown(_ context.Context, c strategy.Color) error {
	f.Calls = append(f.Calls, "down "+string(c))
	return nil
}
func (f *fakeColors) ScaleUp(_ context.Context, c strategy.Color) (health.Result, error) {
	f.Calls = append(f.Calls, "up "+string(c))
	return f.scaleUp, nil
}
func (f *fakeColors) Pause(_ context.Context, rev int, next, _ strategy.Color) {
	f.Calls = append(f.Calls, fmt.Sprintf("pause %d %s", rev, next))
}
func (f *fakeColors) Diagnose(context.Context, *strategy.Failure) {
	f.Calls = append(f.Calls, "diagnose")
}
func (f *fakeColors) Settle(_ context.Context, _ *strategy.Failure, err error) {
	f.Calls = append(f.Calls, fmt.Sprintf("settle %v", err))
}

func TestBlueGreen(t *testing.T) {
	ready := health.Result{Ready: true}
	rev := strategy.Revision{Number: 2}
	cases := []struct {
		name     string
		bg       Strategy
		f        fakeColors
		want     string // calls of Deploy, then of Undo when it failed
		paused   bool
		switched bool
	}{
		{"the checks pass: switch, grace period, commit, old colour down",
			Strategy{AutoPromote: true, Grace: time.Minute}, fakeColors{active: Blue, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade green beside "blue"|watch|info watch|smoke green|switch green|health|steady green 1m0s|commit|down blue`, false, false},
		{"first install: nothing to scale down",
			Strategy{AutoPromote: true}, fakeColors{Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade blue beside ""|watch|info watch|smoke blue|switch blue|health|steady blue 0s|commit`, false, false},
		{"a failed smoke test: traffic never moved; green goes down",
			Strategy{AutoPromote: true}, fakeColors{active: Blue, smokeFail: true, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade green beside "blue"|watch|info watch|smoke green||diagnose|down green|settle <nil>`, false, false},
		{"a crash in the rollout: no smoke test, no switch",
			Strategy{AutoPromote: true}, fakeColors{active: Blue, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}}},
			`upgrade green beside "blue"|watch||diagnose|down green|settle <nil>`, false, false},
		{"gate: stops after the smoke tests",
			Strategy{AutoPromote: false}, fakeColors{active: Green, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade blue beside "green"|watch|info watch|smoke blue|pause 2 blue`, true, false},
		{"a restart in the grace period: switch back first, then diagnose, then down",
			Strategy{AutoPromote: true, Grace: time.Second}, fakeColors{active: Blue, steadySig: true, scaleUp: ready, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade green beside "blue"|watch|info watch|smoke green|switch green|health|steady green 1s||up blue|switch blue|diagnose|down green|settle <nil>`, false, true},
		{"a restart in the grace period, blue not ready: traffic stays on green, nothing scaled down",
			Strategy{AutoPromote: true, Grace: time.Second}, fakeColors{active: Blue, steadySig: true, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade green beside "blue"|watch|info watch|smoke green|switch green|health|steady green 1s||up blue|diagnose|settle blue did not come back ready (), so traffic stays on green`, false, true},
		{"another run switched back: no second switch",
			Strategy{AutoPromote: true, Grace: time.Second}, fakeColors{active: Blue, steadyBy: "run 77", Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade green beside "blue"|watch|info watch|smoke green|switch green|health|steady green 1s||diagnose|down green|settle <nil>`, false, true},
		{"a switch back that lands as the grace period ends: commit loses, no scale-down of blue",
			Strategy{AutoPromote: true, Grace: time.Second}, fakeColors{active: Blue, commitBy: "run 77", Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade green beside "blue"|watch|info watch|smoke green|switch green|health|steady green 1s|commit||diagnose|down green|settle <nil>`, false, true},
		{"first install failing in its grace period: it keeps serving",
			Strategy{AutoPromote: true, Grace: time.Second}, fakeColors{steadySig: true, Script: sessiontest.Script{UpgradeRev: rev, WatchRes: ready}},
			`upgrade blue beside ""|watch|info watch|smoke blue|switch blue|health|steady blue 1s||diagnose|settle <nil>`, false, true},
		{"nothing applied: nothing to undo",
			Strategy{AutoPromote: true}, fakeColors{active: Blue, Script: sessiontest.Script{UpgradeErr: errors.New("render")}},
			`upgrade green beside "blue"`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			res := tc.bg.Deploy(context.Background(), &f)
			calls := strings.Join(f.Calls, "|")
			if res.Failure != nil && res.Failure.Revision > 0 {
				f.Calls = nil
				tc.bg.Undo(context.Background(), &f, res.Failure)
				calls += "||" + strings.Join(f.Calls, "|")
				if res.Failure.Switched != tc.switched {
					t.Errorf("Switched = %v, want %v", res.Failure.Switched, tc.switched)
				}
			}
			if calls != tc.want {
				t.Errorf("calls\n%s\nwant\n%s", calls, tc.want)
			}
			if res.Paused != tc.paused {
				t.Errorf("Paused = %v, want %v", res.Paused, tc.paused)
			}
		})
	}
}

func TestSwitchBack(t *testing.T) {
	f := fakeColors{scaleUp: health.Result{Ready: true}}
	sig, _, err := SwitchBack(context.Background(), &f, Blue, Green, time.Second)
	if sig != nil || err != nil {
		t.Fatalf("SwitchBack = %v, %v", sig, err)
	}
	if got := strings.Join(f.Calls, "|"); got != "up blue|switch blue|health|steady blue 1s|down green" {
		t.Errorf("calls %s", got)
	}
	f = fakeColors{scaleUp: health.Result{Signals: []diagnose.Signal{{Category: diagnose.ImagePull}}}}
	if sig, _, _ := SwitchBack(context.Background(), &f, Blue, Green, time.Second); sig == nil || strings.Contains(strings.Join(f.Calls, "|"), "switch") {
		t.Errorf("a colour that does not come back up was switched to: %v %v", sig, f.Calls)
	}
}
