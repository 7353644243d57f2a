package strategy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
)

// fakeCluster plays the orchestrator for a strategy: scripted answers, a log of calls.
type fakeCluster struct {
	upgrade   Revision
	upgradeE  error
	watch     health.Result
	watchE    error
	unhealthy bool
	calls     []string
}

func (f *fakeCluster) Upgrade(context.Context) (Revision, error) {
	f.calls = append(f.calls, "upgrade")
	return f.upgrade, f.upgradeE
}
func (f *fakeCluster) Watch(context.Context, release.Workloads, time.Time) (health.Result, error) {
	f.calls = append(f.calls, "watch")
	return f.watch, f.watchE
}
func (f *fakeCluster) CheckHealth(context.Context) *diagnose.Signal {
	f.calls = append(f.calls, "health")
	if f.unhealthy {
		return &diagnose.Signal{Category: diagnose.HealthCheck, Reason: "Unhealthy"}
	}
	return nil
}
func (f *fakeCluster) RollBack(_ context.Context, fl *Failure) {
	f.calls = append(f.calls, fmt.Sprintf("rollback %d", fl.Revision))
}
func (f *fakeCluster) Info(_ context.Context, phase, _ string, _ ...any) {
	f.calls = append(f.calls, "info "+phase)
}
func (f *fakeCluster) Warn(_ context.Context, phase, _ string, _ ...any) {
	f.calls = append(f.calls, "warn "+phase)
}
func (f *fakeCluster) Now() time.Time { return time.Unix(0, 0) }

func TestRolling(t *testing.T) {
	wl := release.Workloads{Deployments: []string{"web"}}
	crash := health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}
	cases := []struct {
		name      string
		f         fakeCluster
		cancel    bool
		wantCalls string
		wantFail  string // "" for success; else what Failure.Revision/Why/Reason must say
	}{
		{"healthy", fakeCluster{upgrade: Revision{2, wl}, watch: health.Result{Ready: true}}, false,
			"upgrade watch info watch health", ""},
		{"crash loop: the watch's evidence", fakeCluster{upgrade: Revision{2, wl}, watch: crash}, false,
			"upgrade watch", "rev 2 evidence"},
		{"unhealthy after the rollout", fakeCluster{upgrade: Revision{2, wl}, watch: health.Result{Ready: true}, unhealthy: true}, false,
			"upgrade watch info watch health", "rev 2 evidence"},
		{"refused before writing: nothing to undo", fakeCluster{upgradeE: errors.New("forbidden")}, false,
			"upgrade", "rev 0 why forbidden"},
		{"written then failed: undo it", fakeCluster{upgrade: Revision{Number: 3}, upgradeE: errors.New("conflict")}, false,
			"upgrade", "rev 3 why the upgrade failed to apply: conflict reason config"},
		{"no workloads: nothing to watch", fakeCluster{upgrade: Revision{Number: 2}}, false,
			"upgrade warn watch", ""},
		{"watch lost the API", fakeCluster{upgrade: Revision{2, wl}, watchE: errors.New("API lost")}, false,
			"upgrade watch", "rev 2 why watching the rollout failed: API lost"},
		{"cancelled", fakeCluster{upgrade: Revision{2, wl}, watchE: context.Canceled}, true,
			"upgrade watch", "rev 2 why the run was cancelled during the rollout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			f := tc.f
			fl := Rolling{}.Deploy(ctx, &f).Failure
			if got := strings.Join(f.calls, " "); got != tc.wantCalls {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
			switch {
			case tc.wantFail == "" && fl != nil:
				t.Errorf("failure %+v, want success", fl)
			case tc.wantFail != "" && fl == nil:
				t.Errorf("success, want %s", tc.wantFail)
			case fl != nil:
				got := fmt.Sprintf("rev %d", fl.Revision)
				if fl.Result != nil && len(fl.Result.Signals) > 0 {
					got += " evidence"
				}
				if fl.Why != "" {
					got += " why " + fl.Why
				}
				if fl.Reason != "" {
					got += " reason " + string(fl.Reason)
				}
				if got != tc.wantFail {
					t.Errorf("failure %q, want %q", got, tc.wantFail)
				}
			}
		})
	}
	f := fakeCluster{}
	Rolling{}.Undo(context.Background(), &f, &Failure{Revision: 4})
	if strings.Join(f.calls, " ") != "rollback 4" {
		t.Errorf("Undo: %v, want a rollback from 4", f.calls)
	}
}
