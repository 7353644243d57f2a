// Package outcome is what a run did — its status, revisions, timeline and details — and the
// one description of its named fields that the action's outputs, the CLI's JSON, the job
// summary and the notifications are all built from. The engine, the reporters and the
// notifiers share it without importing one another.
package outcome

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/words"
)

// Status is a run's result, as the `status` output states it.
type Status string

// Statuses.
const (
	Succeeded  Status = "succeeded"
	RolledBack Status = "rolled-back"
	Failed     Status = "failed"
	DryRun     Status = "dry-run"
	// AwaitingPromotion: a deploy stopped on purpose before its switch (auto_promote false);
	// live traffic is where it was, the new version waits for mode promote or abort.
	AwaitingPromotion Status = "awaiting-promotion"
	// Aborted: mode abort dropped a deploy that awaited promotion.
	Aborted Status = "aborted"
)

// Level grades an Event.
type Level string

// Levels.
const (
	Info  Level = "info"
	Warn  Level = "warning"
	Error Level = "error"
)

// Event is one line of a run's timeline.
type Event struct {
	At      time.Duration // since the run started
	Phase   string        // pre-flight, upgrade, watch, health-check, diagnose, rollback, verify, done
	Level   Level
	Message string
	// Wait, when set, is how long the step this event starts may take (a verify window, a
	// health check retrying): a reporter on a terminal shows its progress.
	Wait time.Duration
}

// Events receives a run's events as they happen: all the engine needs of a reporter.
type Events interface {
	Event(ctx context.Context, e Event)
}

// Reporter is everything a user sees of a run: live events, then the outcome.
type Reporter interface {
	Events
	Finish(ctx context.Context, o Outcome) error
}

// Step is one rollback attempt of a cascade and its verdict.
type Step struct {
	Target      int    `json:"target"`       // the revision rolled back to
	NewRevision int    `json:"new_revision"` // the revision the rollback created
	Verdict     string `json:"verdict"`      // verified, or why not
	// Rollout is how long the rollback took until its rollout was complete (the switch);
	// Verify how long its verification (health check, steady window) took after that.
	Rollout time.Duration `json:"rollout_ns"`
	Verify  time.Duration `json:"verify_ns"`
}

// Revision is one line of a release's history.
type Revision struct {
	Revision int       `json:"revision"`
	Updated  time.Time `json:"updated"`
	Status   string    `json:"status"`
	Chart    string    `json:"chart"`
	// ChartSource and ChartDigest are where the revision's chart came from and its digest, as
	// Shepherd recorded them ("" for revisions it did not deploy, or a chart directory).
	ChartSource string   `json:"chart_source,omitempty"`
	ChartDigest string   `json:"chart_digest,omitempty"`
	AppVersion  string   `json:"app_version"`
	Images      []string `json:"images"`
	Description string   `json:"description"`
}

// Outcome is what a run did.
type Outcome struct {
	Mode      config.Mode
	Status    Status
	Release   string
	Namespace string
	Chart     string
	// ChartVersion and ChartDigest identify the chart deployed (mode deploy): the version a
	// range resolved to and the content's digest ("" for a chart directory).
	ChartVersion, ChartDigest string
	ImageTag                  string
	// Revision is the revision this run created (0 if it wrote none).
	Revision int
	// PreviousRevision is the release's latest revision before the run (0 for a first install);
	// HistoryRead says it is known (a run that failed before reading history knows nothing).
	PreviousRevision int
	HistoryRead      bool
	// RollbackRevision is the good revision the release was rolled back to (0 if none);
	// RollbackNewRevision the revision that rollback created.
	RollbackRevision    int
	RollbackNewRevision int
	FailureReason       diagnose.Category
	Diagnosis           *diagnose.Diagnosis
	// Message is the one-line result (the ::error annotation when the run failed).
	Message string
	Diff    string // dry-run: what would change
	// Reason is why a rollback was done (mode rollback).
	Reason string
	// Chain lists the rollback attempts, in order, when there were any.
	Chain []Step
	// ActiveColor is the colour live traffic goes to after the run (blue-green; "" otherwise).
	ActiveColor string
	// Canary is the canary's stages and weight (strategy canary; nil otherwise).
	Canary *CanaryReport
	// Recovered says what was done about a release left stuck by an interrupted run.
	Recovered string
	// Revisions is the release history (mode history).
	Revisions []Revision
	Duration  time.Duration
	Timeline  []Event
}

// Fail is the failed outcome of a run of cfg that ends with msg: its mode, release and
// namespace, status failed. Every failure before or around the engine's own outcome (an
// invalid input, no cluster, a chart not found, a bug) is built here, so they read alike.
func Fail(cfg config.Config, msg string) Outcome {
	return Outcome{Mode: cfg.Mode, Status: Failed, Release: cfg.Release, Namespace: cfg.Namespace, Message: msg}
}

// ExitCode is the process exit code for the outcome: 0 only when the release is healthy on the
// requested version (or a dry run).
func (o Outcome) ExitCode() int {
	switch {
	case o.Status == Succeeded || o.Status == DryRun || o.Status == AwaitingPromotion || o.Status == Aborted:
		return 0
	case o.Mode == config.ModeRollback && o.Status == RolledBack: // asked for, and verified
		return 0
	}
	return 1
}

// CanaryReport is what a canary run did, stage by stage.
type CanaryReport struct {
	// Weight is the canary's share of traffic after the run, in percent (0 when aborted, 100
	// when promoted).
	Weight int
	// Metrics: the stages were judged on Prometheus metrics too (not only pod health).
	Metrics bool
	// ErrorLimit and LatencyLimit are the thresholds as a person reads them ("" when off).
	ErrorLimit, LatencyLimit string
	// Stages are the stages planned, each with what was seen when it ran.
	Stages []StageReport
}

// StageReport is one canary stage: the weight asked for and the replicas that gave the closest
// weight, and, once it ran, how long it held and what its judges saw.
type StageReport struct {
	Requested int     // percent asked for
	Actual    float64 // percent the replica split gives
	Canary    int     // canary replicas (of the first Deployment)
	Stable    int     // stable replicas (of the first Deployment)
	Ran       bool
	Held      time.Duration
	// Verdict is pass, fail, no data, or "" when the stage did not end (cancelled, paused).
	Verdict string
	// Metric, Value and Limit say what decided a failure.
	Metric, Value, Limit string
	// CanaryErrors and StableErrors are the tracks' error rates over the stage ("" unknown);
	// CanaryP99 and StableP99 their p99 latencies.
	CanaryErrors, StableErrors, CanaryP99, StableP99 string
	// ErrorRate is the canary's error rate in percent, for the chart (negative: no data).
	ErrorRate float64
	// Test is the anytime-valid test nearest to deciding at the stage's last look, Evidence
	// its e-value and Bound the value at which it decides (1/alpha, shared by the tests run);
	// Decided is how long into the stage that look was ("" and zeros without metrics).
	Test            string
	Evidence, Bound float64
	Decided         time.Duration
}

// VerdictBoth is a stage's verdict when both tracks showed errors above the threshold and the
// canary was no worse than the stable track: an outage beside the canary, which is not blamed.
const VerdictBoth = "both tracks"

// RollbackPlan is what a rollback is about to do, for a person to confirm.
type RollbackPlan struct {
	Release, Namespace   string
	From, To             int
	FromImages, ToImages []string
	Verify               time.Duration
	// FromColor and ToColor are set for a blue-green release: the rollback is a switch.
	FromColor, ToColor string
}

// Question asks whether to go ahead, naming the revisions and what they run.
func (p RollbackPlan) Question() string {
	if p.ToColor != "" {
		return fmt.Sprintf("Switch %s (namespace %s) back from %s (revision %d: %s) to %s (revision %d: %s)?",
			p.Release, p.Namespace, p.FromColor, p.From, words.OrDefault(strings.Join(p.FromImages, ", "), "no images"),
			p.ToColor, p.To, words.OrDefault(strings.Join(p.ToImages, ", "), "no images"))
	}
	return fmt.Sprintf("Roll %s (namespace %s) back from revision %d (%s) to revision %d (%s), then watch it for %s?",
		p.Release, p.Namespace, p.From, words.OrDefault(strings.Join(p.FromImages, ", "), "no images"),
		p.To, words.OrDefault(strings.Join(p.ToImages, ", "), "no images"), p.Verify)
}
