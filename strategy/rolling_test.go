package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

func TestRolling(t *testing.T) {
	wl := release.Workloads{Deployments: []string{"web"}}
	crash := health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}
	cases := []struct {
		name      string
		f         sessiontest.Script
		cancel    bool
		wantCalls string
		wantFail  string // "" for success; else what Failure.Revision/Why/Reason must say
	}{
		{"healthy", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2, Workloads: wl}, WatchRes: health.Result{Ready: true}}, false,
			"upgrade watch info watch health", ""},
		{"crash loop: the watch's evidence", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2, Workloads: wl}, WatchRes: crash}, false,
			"upgrade watch", "rev 2 evidence"},
		{"unhealthy after the rollout", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2, Workloads: wl}, WatchRes: health.Result{Ready: true}, Unhealthy: true}, false,
			"upgrade watch info watch health", "rev 2 evidence"},
		{"refused before writing: nothing to undo", sessiontest.Script{UpgradeErr: errors.New("forbidden")}, false,
			"upgrade", "rev 0 why forbidden"},
		{"written then failed: undo it", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 3}, UpgradeErr: errors.New("conflict")}, false,
			"upgrade", "rev 3 why the upgrade failed to apply: conflict reason config"},
		{"no workloads: nothing to watch", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2}}, false,
			"upgrade warn watch", ""},
		{"watch lost the API", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2, Workloads: wl}, WatchErr: errors.New("API lost")}, false,
			"upgrade watch", "rev 2 why watching the rollout failed: API lost"},
		{"cancelled", sessiontest.Script{UpgradeRev: strategy.Revision{Number: 2, Workloads: wl}, WatchErr: context.Canceled}, true,
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
			fl := strategy.Rolling{}.Deploy(ctx, &f).Failure
			if got := strings.Join(f.Calls, " "); got != tc.wantCalls {
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
	f := sessiontest.Script{}
	strategy.Rolling{}.Undo(context.Background(), &f, &strategy.Failure{Revision: 4})
	if strings.Join(f.Calls, " ") != "rollback 4" {
		t.Errorf("Undo: %v, want a rollback from 4", f.Calls)
	}
}
