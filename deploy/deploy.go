package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/rollback"
)

// CleanupTimeout bounds the work done after a failure or cancellation (diagnosis, rollback,
// verification). It runs on a context that is not cancelled, so a cancelled workflow still
// leaves the cluster on a good revision.
const CleanupTimeout = 3 * time.Minute

// Deps are the run's collaborators; main wires the real ones.
type Deps struct {
	Clients  *kube.Clients
	Helm     *release.Helm
	Reporter Reporter
	Clock    clock.WithTicker // default: real clock
	Log      *slog.Logger     // debug log (never the user's view)
	HTTP     *http.Client     // for health checks
	Budgets  diagnose.Budgets
	// HealthInterval is the pause between health-check attempts (default 1s).
	HealthInterval time.Duration
}

// run is one deploy in progress.
type run struct {
	cfg   config.Config
	d     Deps
	start time.Time
	out   Outcome
	lock  *kube.Lock
}

// Run carries out cfg — a deploy (rolling), a rollback or a history listing — and returns what
// happened. It never panics or exits; every error is in the Outcome (Status failed, Message).
func Run(ctx context.Context, cfg config.Config, d Deps) Outcome {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.HealthInterval <= 0 {
		d.HealthInterval = time.Second
	}
	r := &run{cfg: cfg, d: d, start: d.Clock.Now()}
	r.out = Outcome{Mode: cfg.Mode, Release: cfg.Release, Namespace: cfg.Namespace, Chart: cfg.Chart, ImageTag: cfg.ImageTag}
	switch {
	case cfg.Mode == config.ModeHistory:
		r.history(ctx)
	case cfg.DryRun: // reads only: no lock, nothing written
		r.deploy(ctx)
	default:
		r.locked(ctx)
	}
	r.out.Duration = d.Clock.Since(r.start)
	return r.out
}

// locked runs a writing mode while holding the release's lock.
func (r *run) locked(ctx context.Context) {
	if end, err := r.begin(ctx); err != nil {
		r.fail(ctx, "pre-flight", "", "%v (nothing was changed)", err)
	} else {
		if r.cfg.Mode == config.ModeRollback {
			r.rollback(ctx)
		} else {
			r.deploy(ctx)
		}
		r.phase(ctx, "done", 0)
		end()
	}
}

func (r *run) event(ctx context.Context, phase string, lvl Level, format string, a ...any) {
	e := Event{At: r.d.Clock.Since(r.start), Phase: phase, Level: lvl, Message: fmt.Sprintf(format, a...)}
	r.out.Timeline = append(r.out.Timeline, e)
	if r.d.Reporter != nil {
		r.d.Reporter.Event(ctx, e)
	}
}

func (r *run) fail(ctx context.Context, phase string, reason diagnose.Category, format string, a ...any) {
	r.out.Status, r.out.FailureReason = Failed, reason
	r.out.Message = fmt.Sprintf(format, a...)
	r.event(ctx, phase, Error, "%s", r.out.Message)
}

func (r *run) deploy(ctx context.Context) {
	cfg := r.cfg
	pf, err := r.preflight(ctx)
	if err != nil {
		var pe *preflightError
		reason := diagnose.Category("")
		if errors.As(err, &pe) {
			reason = pe.reason
		}
		r.fail(ctx, "pre-flight", reason, "pre-flight: %v (nothing was changed)", err)
		return
	}
	r.out.PreviousRevision = pf.current
	if cfg.DryRun {
		r.out.Status, r.out.Diff = DryRun, pf.diff
		r.out.Message = "dry run: nothing was changed"
		if pf.diff == "" {
			r.out.Message += "; the upgrade would change nothing"
		}
		r.event(ctx, "dry-run", Info, "%s", r.out.Message)
		return
	}

	since := r.d.Clock.Now()
	rel, err := r.d.Helm.Upgrade(ctx, cfg.Release, pf.chart, pf.values, release.UpgradeOptions{
		Description: "Shepherd: upgrade to " + orDefault(cfg.ImageTag, "chart defaults")})
	if err != nil {
		if rel2 := r.latest(); rel2 > pf.current {
			r.out.Revision = rel2
			r.cleanup(ctx, since, nil, fmt.Sprintf("the upgrade failed to apply: %v", err), diagnose.Config)
			return
		}
		r.fail(ctx, "upgrade", "", "%v", err)
		return
	}
	r.out.Revision = rel.Version
	r.phase(ctx, "deploying", rel.Version)
	r.event(ctx, "upgrade", Info, "revision %d applied (previous: %s)", rel.Version, revName(pf.current))

	deps, err := release.Deployments(rel.Manifest)
	if err != nil {
		r.cleanup(ctx, since, nil, "cannot read the release manifest: "+err.Error(), "")
		return
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	res, werr := r.watcher().Watch(wctx, health.Target{Namespace: cfg.Namespace, Deployments: names(deps), Since: since})
	cancel()
	switch {
	case ctx.Err() != nil: // the run itself was cancelled (SIGTERM): undo, on a context of its own
		r.cleanup(ctx, since, &res, "the run was cancelled during the rollout", "")
		return
	case werr != nil && !errors.Is(werr, context.DeadlineExceeded):
		r.cleanup(ctx, since, &res, "watching the rollout failed: "+werr.Error(), "")
		return
	case !res.Ready:
		r.cleanup(ctx, since, &res, "", "")
		return
	}
	r.event(ctx, "watch", Info, "rollout complete: %s", res.Status)

	if cfg.HealthURL != "" {
		if sig := r.checkHealth(ctx); sig != nil {
			res.Ready, res.Signals = false, []diagnose.Signal{*sig}
			r.cleanup(ctx, since, &res, "", "")
			return
		}
		r.event(ctx, "health-check", Info, "%s answered healthy", cfg.HealthURL)
	}
	r.out.Status = Succeeded
	r.out.Message = fmt.Sprintf("%s is on revision %d", cfg.Release, rel.Version)
	r.event(ctx, "done", Info, "%s", r.out.Message)
}

func (r *run) watcher() *health.Watcher {
	return &health.Watcher{Client: r.d.Clients.Typed, Clock: r.d.Clock, Budgets: r.d.Budgets,
		Progress: func(line string) { r.d.Log.Debug("rollout", "status", line) }}
}

// latest returns the release's newest revision number (0 when unknown).
func (r *run) latest() int {
	h, err := r.d.Helm.History(r.cfg.Release)
	if err != nil || len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Version
}

// cleanup handles a failed (or cancelled) rollout: diagnose while the evidence exists, mark the
// revision failed, roll back to the last good revision and verify it. It runs on a context
// that is not cancelled, with its own deadline.
func (r *run) cleanup(parent context.Context, since time.Time, res *health.Result, why string, reason diagnose.Category) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), CleanupTimeout)
	defer cancel()
	cfg := r.cfg
	if res != nil && len(res.Signals) > 0 {
		sig := res.Signals[0]
		reason = sig.Category
		r.event(ctx, "watch", Error, "rollout failed: %s %s: %s", sig.Object, sig.Reason, sig.Message)
		coll := diagnose.Collector{Client: r.d.Clients.Typed}
		diag, err := coll.Collect(ctx, cfg.Namespace, res.Selector, res.Signals)
		if err != nil {
			r.event(ctx, "diagnose", Warn, "diagnosis incomplete: %v", err)
		}
		r.out.Diagnosis = &diag
		r.event(ctx, "diagnose", Info, "%s: %s", diag.Category, diag.Summary)
		if why == "" {
			why = diag.Summary
		}
	}
	r.out.FailureReason = reason
	desc := "Shepherd: failed: " + string(reason) + ": " + why
	if err := r.d.Helm.MarkFailed(cfg.Release, r.out.Revision, truncate(desc, 200)); err != nil {
		r.event(ctx, "rollback", Warn, "could not mark revision %d failed: %v", r.out.Revision, err)
	}
	r.phase(ctx, "rolling-back", r.out.Revision)
	wctx, wcancel := context.WithTimeout(ctx, cfg.Timeout*time.Duration(1+cfg.MaxCascade))
	defer wcancel()
	chain, err := r.rollbacker().Cascade(wctx, cfg.Release, r.out.Revision, 0, cfg.MaxCascade,
		func(int) string { return fmt.Sprintf("Shepherd: rollback from %d (%s)", r.out.Revision, reason) }, r.verifyHealth)
	r.recordChain(ctx, chain)
	final := lastAttempt(chain)
	switch {
	case errors.Is(err, rollback.ErrNoGoodRevision):
		r.fail(ctx, "rollback", reason, "revision %d failed (%s) and there is no earlier good revision to roll back to; the release is left marked failed: %s", r.out.Revision, reason, why)
		return
	case err != nil:
		r.fail(ctx, "rollback", reason, "revision %d failed (%s: %s) and the rollback failed: %v; the release lock records where this run stopped, so the next Shepherd run of %s will finish the rollback", r.out.Revision, reason, why, kube.Explain(err), cfg.Release)
		return
	case final == nil || !final.Verified():
		r.fail(ctx, "verify", reason, "revision %d failed (%s: %s) and no earlier revision verified (tried %s)", r.out.Revision, reason, why, tried(chain))
		return
	}
	r.out.Status = RolledBack
	r.out.Message = fmt.Sprintf("revision %d failed (%s: %s); rolled back to revision %d", r.out.Revision, reason, why, final.Target)
}

func names(deps []appsv1.Deployment) []string {
	out := make([]string, len(deps))
	for i, d := range deps {
		out[i] = d.Name
	}
	return out
}

func revName(v int) string {
	if v == 0 {
		return "none, first install"
	}
	return fmt.Sprint(v)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
