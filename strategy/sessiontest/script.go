package sessiontest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Script plays the engine's strategy.Cluster for a strategy's flow: scripted answers, and a
// log of the calls made (Calls).
type Script struct {
	UpgradeRev strategy.Revision
	UpgradeErr error
	WatchRes   health.Result
	WatchErr   error
	Unhealthy  bool
	Calls      []string
}

var _ strategy.Cluster = (*Script)(nil)

// Upgrade answers UpgradeRev, UpgradeErr.
func (f *Script) Upgrade(context.Context) (strategy.Revision, error) {
	f.Calls = append(f.Calls, "upgrade")
	return f.UpgradeRev, f.UpgradeErr
}

// Watch answers WatchRes, WatchErr.
func (f *Script) Watch(context.Context, release.Workloads, time.Time) (health.Result, error) {
	f.Calls = append(f.Calls, "watch")
	return f.WatchRes, f.WatchErr
}

// CheckHealth is unhealthy when Unhealthy.
func (f *Script) CheckHealth(context.Context) *diagnose.Signal {
	f.Calls = append(f.Calls, "health")
	if f.Unhealthy {
		return &diagnose.Signal{Category: diagnose.HealthCheck, Reason: "Unhealthy"}
	}
	return nil
}

// RollBack logs "rollback REV".
func (f *Script) RollBack(_ context.Context, fl *strategy.Failure) {
	f.Calls = append(f.Calls, fmt.Sprintf("rollback %d", fl.Revision))
}

// Info logs "info PHASE".
func (f *Script) Info(_ context.Context, phase, _ string, _ ...any) {
	f.Calls = append(f.Calls, "info "+phase)
}

// Warn logs "warn PHASE".
func (f *Script) Warn(_ context.Context, phase, _ string, _ ...any) {
	f.Calls = append(f.Calls, "warn "+phase)
}

// Now is the epoch.
func (f *Script) Now() time.Time { return time.Unix(0, 0) }

// InOrder fails t unless each of want appears in log, in that order.
func InOrder(t *testing.T, log []string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := slices.Index(log[at:], w)
		if i < 0 {
			t.Fatalf("writes lack %q after %v:\n%s", w, log[:at], strings.Join(log, "\n"))
		}
		at += i + 1
	}
}

// Before fails t unless a's first write comes before b's first.
func Before(t *testing.T, log []string, a, b string) {
	t.Helper()
	if i, j := slices.Index(log, a), slices.Index(log, b); i < 0 || j < 0 || i > j {
		t.Errorf("%q (at %d) must come before %q (at %d):\n%s", a, i, b, j, strings.Join(log, "\n"))
	}
}

// Lacks fails t when log holds w.
func Lacks(t *testing.T, log []string, w string) {
	t.Helper()
	if slices.Contains(log, w) {
		t.Errorf("writes have %q:\n%s", w, strings.Join(log, "\n"))
	}
}

// Web is a chart's rendered manifest at version v: Deployment web (4 replicas, pods labelled
// app: web) and Service web selecting them.
func Web(v string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 4
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: app:%s
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
`, v)
}
