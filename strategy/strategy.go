// Package strategy is what every deploy strategy shares: the Strategy interface the engine
// runs, the Cluster and Session it provides (Session: what a strategy's cluster half may do
// to the world, faked by package sessiontest), how a deploy ends (Result, Failure), the rolling
// strategy, and keep_capacity. Each other strategy lives in a package of its own (bluegreen,
// canary), which owns its flow, its cluster half, its post-renderer, its Lease notes and
// labels, and its modes.
package strategy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
)

// Strategy replaces the running version of a release in its own way. The orchestrator
// (package internal/deploy) chooses it by name, runs Deploy, and when Deploy returns a Failure,
// runs Undo on a context of its own (a cancelled run still undoes).
type Strategy interface {
	Name() config.Strategy
	// Deploy makes the new version live, each step checked, or stops where it is told to.
	Deploy(ctx context.Context, c Cluster) Result
	// Undo takes the release back to what served before f, and says how that went.
	Undo(ctx context.Context, c Cluster, f *Failure)
}

// Cluster is what a strategy can do, as the orchestrator provides it: every write recorded
// (the phase on the release's Lease, the events in the report), every check the same fail-fast
// watcher and health check. A strategy never talks to the cluster otherwise.
type Cluster interface {
	// Upgrade applies the new version as a Helm revision and records phase deploying. On an
	// error, Revision.Number is the revision Helm wrote anyway (0 when none).
	Upgrade(ctx context.Context) (Revision, error)
	// Watch follows the workloads' rollout, bounded by the run's timeout, until it completes
	// or a failure signal shows. Events older than since are history, not evidence.
	Watch(ctx context.Context, w release.Workloads, since time.Time) (health.Result, error)
	// CheckHealth asks health_url when set (nil: healthy, or no URL).
	CheckHealth(ctx context.Context) *diagnose.Signal
	// RollBack diagnoses f, rolls back to the last good revision before it and verifies that
	// (cascading to older ones), and records the outcome.
	RollBack(ctx context.Context, f *Failure)
	// Info and Warn tell the user a step's news.
	Info(ctx context.Context, phase, format string, a ...any)
	Warn(ctx context.Context, phase, format string, a ...any)
	// Now is the run's clock.
	Now() time.Time
}

// Revision is a Helm revision a strategy applied, and the workloads it rolls out.
type Revision struct {
	Number    int
	Workloads release.Workloads
}

// Result is how Deploy ended: live (the zero Result), paused before the switch for a later
// promote or abort, or failed.
type Result struct {
	Paused  bool
	Failure *Failure
}

// Color is a blue-green colour (package bluegreen names them).
type Color string

// Failure is why a deploy did not make it, for Undo and the report.
type Failure struct {
	// Revision is the revision that failed (0: nothing was applied, nothing to undo).
	Revision int
	// Since is when it was applied: older events are not evidence.
	Since time.Time
	// Result is the watch's evidence, when there was a watch.
	Result *health.Result
	// Why says what happened when the evidence does not (a cancellation, an apply error).
	Why string
	// Reason is the failure's category when known before any diagnosis.
	Reason diagnose.Category
	// Blue-green: the colour deployed and the colour that served before it ("" on a first
	// install); Switched when traffic had moved to Color; By names the run that switched it
	// back already.
	Color, From Color
	Switched    bool
	By          string
	// Canary: the failure is a canary's (Stage is the 0-based stage it reached, -1 before the
	// first); Promoting when the stable track's upgrade to the new version failed.
	Canary, Promoting bool
	Stage             int
	// Cancelled: the run was cancelled (a signal, a workflow cancellation): the undo's writes
	// that put traffic back on the known-good version go first, before any diagnosis.
	Cancelled bool
}

// Metrics reports whether f is a metric analysis's verdict (not a pod's).
func (f *Failure) Metrics() bool {
	return f.Result != nil && len(f.Result.Signals) > 0 && f.Result.Signals[0].Category == diagnose.Analysis
}

// StopRequested is the cause of a run's context cancelled at a rollback's request: By names
// the rollback's owner, Reason its reason.
type StopRequested struct{ By, Reason string }

func (e *StopRequested) Error() string {
	return fmt.Sprintf("stopped by a rollback (%s): %s", e.By, e.Reason)
}

// StopRequestOf is the rollback request that stopped ctx, if one did.
func StopRequestOf(ctx context.Context) *StopRequested {
	var sr *StopRequested
	if errors.As(context.Cause(ctx), &sr) {
		return sr
	}
	return nil
}
