// Package sdk is Shepherd as a Go library, the one behind the Shepherd GitHub Action and CLI: it deploys a Helm
// chart to Kubernetes with zero downtime — rolling, blue-green, or a canary judged on live
// metrics — watches the rollout itself, and takes a bad release back to the last good
// revision, saying why.
//
// One entry point runs any mode: build a [Config] (from [config.Default] and fields, or from
// inputs with [config.FromInputs]), then call [Run]. Events arrive at [Options.Events] as they
// happen; the [Outcome] comes back. The action and the CLI (the module's root, package main)
// are its two callers: they read the
// environment, flags and signals, and turn the outcome into outputs, a job summary, text or
// JSON. Run reads no environment, prints nothing and never exits.
//
// # Which packages are stable
//
// Stable API (semantic versioning applies): this package; [config] (Config, its inputs,
// defaults and validation); [outcome] (Outcome, Event, Reporter); [report] (reporters: the
// job summary and outputs, plain text, JSON); [notify] (GitHub Deployments, Slack); [analysis]
// (metrics providers — analysis.Provider is the seam for a backend other than Prometheus —
// and the anytime-valid tests).
//
// Exported but not yet stable: strategy, kube, release, health, charts and diagnose, whose
// shapes move while each strategy comes to own its lifecycle. The engine and what only it
// uses live under internal/ and cannot be imported.
package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// Config is one run's configuration: the mode, the release, the chart, the strategy and its
// settings, how to reach the cluster.
type Config = config.Config

// Outcome is what a run did: its status, revisions, the diagnosis of a failure, each canary
// stage.
type Outcome = outcome.Outcome

// Event is one step of a run, as it happens.
type Event = outcome.Event

// Events receives a run's events as they happen ([report.Text] and [report.JSON] are ones).
type Events = outcome.Events

// RollbackPlan is what a rollback is about to do, for a person to confirm.
type RollbackPlan = deploy.RollbackPlan

// Options are what a run takes beyond its Config; every field may be left zero.
type Options struct {
	// Events receives the run's events (nil: none).
	Events Events
	// Log is the debug log (nil: none). It never holds a secret of the Config.
	Log *slog.Logger
	// Abort, when done, abandons the run's safe wind-down at once (a second interrupt); ctx
	// ending asks for the wind-down: traffic back on a verified version, state recorded for
	// the next run.
	Abort context.Context
	// Confirm is asked before a rollback writes anything; false leaves everything as it is
	// (nil: not asked).
	Confirm func(ctx context.Context, p RollbackPlan) bool
	// Token fetches an OIDC ID token for a keyless run (Config.Keyless).
	Token kube.TokenFunc
	// Chart is the chart, already found (nil: Run finds it from the Config).
	Chart *charts.Resolved
	// Providers make tokens in process for a kubeconfig's exec plugin whose command cannot
	// run here (nil: it runs as client-go runs it).
	Providers *kube.Providers
}

// Run runs cfg — deploy, rollback, history, promote or abort — and returns its outcome. An
// invalid cfg is a failed outcome naming every bad setting, before anything in the cluster is
// touched; a run cancelled through ctx winds down safely first. A panic inside (a bug) is a
// failed outcome too, never a crash; the release's lock keeps its phase for the next run.
func Run(ctx context.Context, cfg Config, o Options) (out Outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = Recovered(cfg, p)
		}
	}()
	if err := cfg.Validate(); err != nil {
		msg := "invalid configuration: " + diagnose.Redact(config.RedactURLs(strings.ReplaceAll(err.Error(), "\n", "; ")), cfg.SecretValues())
		if o.Events != nil {
			o.Events.Event(ctx, Event{Phase: "pre-flight", Level: outcome.Error, Message: msg})
		}
		return failed(cfg, msg)
	}
	// The outcome and every event leave without a URL's credentials or a secret of cfg.
	scrub := outcome.NewScrubber(cfg.SecretValues())
	out = engine(ctx, cfg, deploy.Edge{Reporter: outcome.RedactEvents(o.Events, scrub), Log: o.Log, Abort: o.Abort, Confirm: o.Confirm, Chart: o.Chart, Token: o.Token, Providers: o.Providers})
	return outcome.Redact(out, scrub)
}

// engine is what Run runs (a variable so that its safety net can be tested).
var engine = deploy.Execute

// Recovered is the failed outcome of a run of cfg stopped by panic value p (a bug): it says so,
// without a secret of cfg, and that the next run finishes or undoes what this one left.
func Recovered(cfg Config, p any) Outcome {
	return failed(cfg, fmt.Sprintf("Shepherd stopped on an internal error, a bug (%s); the next Shepherd run of %s finishes or undoes what this one left; please report it with this run's log",
		diagnose.Redact(fmt.Sprint(p), cfg.SecretValues()), cfg.Release))
}

func failed(cfg Config, msg string) Outcome {
	o := outcome.Fail(cfg, msg)
	o.Chart, o.ImageTag = cfg.Chart, cfg.ImageTag
	return o
}
