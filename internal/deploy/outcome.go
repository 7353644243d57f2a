// Package deploy is the orchestrator: it runs a strategy's steps against the cluster, watches
// them, and on failure diagnoses, rolls back and verifies — reporting every step.
package deploy

import "github.com/shepherd-deploy/shepherd/outcome"

// The outcome's types live in package outcome, which the reporters and notifiers share
// without importing the engine; these names keep the engine's code as it reads.
type (
	// Status is a run's result.
	Status = outcome.Status
	// Level grades an Event.
	Level = outcome.Level
	// Event is one line of a run's timeline.
	Event = outcome.Event
	// Reporter is everything a user sees of a run.
	Reporter = outcome.Reporter
	// Step is one rollback attempt of a cascade.
	Step = outcome.Step
	// Revision is one line of a release's history.
	Revision = outcome.Revision
	// Outcome is what a run did.
	Outcome = outcome.Outcome
	// CanaryReport is what a canary run did, stage by stage.
	CanaryReport = outcome.CanaryReport
	// StageReport is one canary stage.
	StageReport = outcome.StageReport
)

// Statuses and levels (see package outcome).
const (
	Succeeded         = outcome.Succeeded
	RolledBack        = outcome.RolledBack
	Failed            = outcome.Failed
	DryRun            = outcome.DryRun
	AwaitingPromotion = outcome.AwaitingPromotion
	Aborted           = outcome.Aborted
	Info              = outcome.Info
	Warn              = outcome.Warn
	Error             = outcome.Error
)
