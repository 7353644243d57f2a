package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/rollback"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// DiagnoseTimeout bounds the diagnosis after a failure (reading pods, events and logs).
const DiagnoseTimeout = 30 * time.Second

// slack is added to the bounds computed from the user's durations, for the API calls around
// the waits (Helm writes, events, the lock).
const slack = 30 * time.Second

// CleanupBound is how long the work after a failure or cancellation may take: the diagnosis,
// then up to 1+max_cascade rollback attempts, each bounded by timeout plus its health check.
// It follows the user's timeout; there is no hidden cap.
func CleanupBound(cfg config.Config) time.Duration {
	return DiagnoseTimeout + time.Duration(1+cfg.MaxCascade)*(cfg.Timeout+healthBound(cfg)) + slack
}

// RollbackBound is mode rollback's deadline: up to 1+max_cascade attempts, each its rollout
// (timeout), health check and verification window.
func RollbackBound(cfg config.Config) time.Duration {
	return time.Duration(1+cfg.MaxCascade)*(cfg.Timeout+healthBound(cfg)+cfg.VerifyDuration) + slack
}

func healthBound(cfg config.Config) time.Duration {
	if cfg.HealthURL == "" {
		return 0
	}
	return cfg.HealthTimeout
}

// Deps are the run's collaborators; main wires the real ones.
type Deps struct {
	Clients *kube.Clients
	// Dynamic reads and writes objects Shepherd has no typed client for (Gateway API
	// routes); default: one from Clients' config.
	Dynamic  dynamic.Interface
	Helm     *release.Helm
	Reporter outcome.Events
	Clock    clock.WithTicker // default: real clock
	Log      *slog.Logger     // debug log (never the user's view)
	HTTP     *http.Client     // for health checks
	Budgets  diagnose.Budgets
	// Chart is the chart to deploy, already found (the edge finds it first, to record it on
	// the GitHub deployment); nil: a deploy finds it itself, before anything is written.
	Chart *charts.Resolved
	// HealthInterval is the pause between health-check attempts (default 1s).
	HealthInterval time.Duration
	// Abort ends when the user insists on stopping (a second SIGINT/SIGTERM): the cleanup
	// that a cancelled run does on a context of its own stops at once, leaving its phase on
	// the release's lock for the next run. Default: never.
	Abort context.Context
	// Confirm, when set, is asked before a rollback writes anything; false cancels it.
	Confirm func(ctx context.Context, p RollbackPlan) bool
}

// run is one deploy in progress.
type run struct {
	cfg   config.Config
	d     Deps
	start time.Time
	out   Outcome
	lock  *kube.Lock
	// resumeFrom is the revision an earlier run was rolling back from when it stopped (mode
	// rollback finishes that rollback as its own); 0 when none.
	resumeFrom int
	// unfinished: the run stopped with work left (a rollback not done); the lock keeps its
	// phase for the next run instead of saying done.
	unfinished bool
	// keepPhase: the run stopped on purpose in the phase it recorded (awaiting promotion).
	keepPhase bool
	// wrote: the run recorded a phase of its own (it changed something).
	wrote bool
	// registry is each strategy's lifecycle for this run (strategies.go; nil until needed).
	registry []lifecycle
	// stopAsked is who this rollback asked the run holding a canary in flight to stop as ("":
	// it asked no one).
	stopAsked string
	// closers end what the run opened for its whole length (port-forwards), when it ends.
	closers []func()
	// surged lists the Deployments keep_capacity made roll with a surge pod (as said in the
	// log), so that a rollout stalled on that pod is diagnosed as such.
	surged []string
}

// Run carries out cfg — a deploy (rolling), a rollback or a history listing — and returns what
// happened. It never panics or exits; every error is in the Outcome (Status failed, Message),
// a bug's panic too.
func Run(ctx context.Context, cfg config.Config, d Deps) (out Outcome) {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.HealthInterval <= 0 {
		d.HealthInterval = time.Second
	}
	if d.Abort == nil {
		d.Abort = context.Background()
	}
	r := &run{cfg: cfg, d: d, start: d.Clock.Now()}
	defer func() {
		for _, f := range r.closers {
			f()
		}
	}()
	r.out = Outcome{Mode: cfg.Mode, Release: cfg.Release, Namespace: cfg.Namespace, Chart: cfg.Chart, ImageTag: cfg.ImageTag}
	defer func() {
		if p := recover(); p != nil {
			r.crashed(ctx, p)
			r.out.Duration = d.Clock.Since(r.start)
			out = r.out
		}
	}()
	if cfg.Mode == config.ModeDeploy {
		if err := r.resolveChart(ctx); err != nil {
			r.fail(ctx, "pre-flight", "", "%v (nothing was changed)", err)
			r.out.Duration = d.Clock.Since(r.start)
			return r.out
		}
	}
	switch {
	case cfg.Mode == config.ModeHistory:
		r.history(ctx)
	case cfg.DryRun: // reads only: no lock, nothing written
		r.deploy(ctx)
	case cfg.Mode == config.ModeRollback && r.rollbackBeforeLock(ctx):
		// a strategy rolled back without waiting for the lock (blue-green in its grace period)
	default:
		r.locked(ctx)
	}
	r.out.Duration = d.Clock.Since(r.start)
	return r.out
}

// locked runs a writing mode while holding the release's lock. Its work stops when the lock
// is lost (nothing more is written), and the lock is freed with phase done only when no work
// is left unfinished.
func (r *run) locked(ctx context.Context) {
	end, err := r.begin(ctx)
	var fe *finishError
	switch {
	case errors.As(err, &fe): // it wrote: finishing an earlier run's rollback was under way
		r.fail(ctx, "recover", fe.reason, "%v; this run's own work was not started", err)
		return
	case err != nil:
		r.fail(ctx, "pre-flight", "", "%v (nothing was changed)", err)
		return
	}
	defer func() {
		if p := recover(); p != nil { // a bug: free the lock, keeping its phase for the next run
			r.crashed(ctx, p)
			end("")
		}
	}()
	wctx, cancel := r.guard(ctx, false)
	if stopsOnRequest(r.cfg.Mode) {
		wctx, cancel = r.stoppable(wctx, cancel)
	}
	switch r.cfg.Mode {
	case config.ModeRollback:
		rctx, rcancel := context.WithTimeout(wctx, RollbackBound(r.cfg))
		r.rollback(rctx)
		rcancel()
	case config.ModePromote:
		r.promote(wctx)
	case config.ModeAbort:
		r.abort(wctx)
	default:
		r.deploy(wctx)
	}
	cancel()
	if err := r.lock.Err(); err != nil {
		r.unfinished = true
		r.out.Status = Failed
		r.out.Message = strings.TrimPrefix(fmt.Sprintf("%s; %v; the Lease keeps this run's last phase (%s) for whichever run holds it next",
			r.out.Message, err, r.lock.Recorded()), "; ")
		r.event(ctx, "lock", Error, "%v", err)
	}
	phase := kube.PhaseDone
	switch {
	case r.unfinished || r.keepPhase:
		phase = "" // keep the phase in flight for the next run
	case !r.wrote && r.lock.Previous.Phase == kube.PhaseAwaitingPromotion:
		phase = kube.PhaseAwaitingPromotion // this run changed nothing: the deploy still waits
	}
	end(phase)
}

// guard returns ctx, also cancelled when the release's lock is lost and, with abortable, when
// the user insists on stopping (Deps.Abort); its cause says which.
func (r *run) guard(ctx context.Context, abortable bool) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	var lost <-chan struct{}
	if r.lock != nil {
		lost = r.lock.Lost()
	}
	abort := context.Background().Done()
	if abortable {
		abort = r.d.Abort.Done()
	}
	stop := make(chan struct{})
	go func() {
		select {
		case <-lost:
			cancel(r.lock.Err())
		case <-abort:
			cancel(errAborted)
		case <-stop:
		}
	}()
	return ctx, func() { close(stop); cancel(nil) }
}

// stoppable is ctx, also cancelled when a rollback asks this run to stop (strategy.StopRequested).
func (r *run) stoppable(ctx context.Context, cancel context.CancelFunc) (context.Context, context.CancelFunc) {
	sctx, scancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go r.watchStop(sctx, scancel, done)
	return sctx, func() { close(done); scancel(nil); cancel() }
}

// errAborted is the cause of a cleanup stopped by a second signal.
var errAborted = errors.New("stopped by a second interrupt (SIGINT/SIGTERM) during the cleanup")

func (r *run) event(ctx context.Context, phase string, lvl Level, format string, a ...any) {
	r.emit(ctx, Event{At: r.d.Clock.Since(r.start), Phase: phase, Level: lvl, Message: fmt.Sprintf(format, a...)})
}

// waitEvent is an Info event that starts a wait of up to wait (a reporter on a terminal shows
// its progress until the next event).
func (r *run) waitEvent(ctx context.Context, phase string, wait time.Duration, format string, a ...any) {
	r.emit(ctx, Event{At: r.d.Clock.Since(r.start), Phase: phase, Level: Info, Message: fmt.Sprintf(format, a...), Wait: wait})
}

func (r *run) emit(ctx context.Context, e Event) {
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
		r.fail(ctx, "pre-flight", reason, "%v (nothing was changed)", err)
		return
	}
	r.out.PreviousRevision, r.out.HistoryRead = pf.current, true
	if cfg.DryRun {
		// Secret objects' values are hidden by the diff itself; values set for secret-looking
		// keys are masked wherever else they appear (a ConfigMap, an env value).
		r.out.Status, r.out.Diff = DryRun, diagnose.Redact(pf.diff, cfg.SecretValues())
		r.out.Message = "dry run: nothing was changed"
		if pf.diff == "" {
			r.out.Message += "; the upgrade would change nothing"
		}
		r.event(ctx, "dry-run", Info, "%s", r.out.Message)
		return
	}

	st, err := r.strategyFor()
	if err != nil {
		r.fail(ctx, "pre-flight", "", "%v (nothing was changed)", err)
		return
	}
	c := &cluster{r: r, pf: pf}
	var sc strategy.Cluster = c
	if l := r.lifecycle(); l != nil && pf.plan != nil {
		sc = l.cluster(c, pf)
	}
	res := st.Deploy(ctx, sc)
	f := res.Failure
	switch {
	case res.Paused: // Pause said what waits, and where
		r.keepPhase = true
	case f == nil:
		r.succeeded(ctx, c, sc)
	case f.Revision == 0: // nothing was applied: nothing to undo
		r.fail(ctx, "upgrade", "", "%s", f.Why)
	case errors.Is(context.Cause(ctx), kube.ErrLockLost):
		// another run may own the release now: write nothing, not even an undo
	default:
		if sr := strategy.StopRequestOf(ctx); sr != nil {
			f.Why, f.Cancelled = sr.Error(), true
		}
		uctx, cancel := r.undoContext(ctx)
		st.Undo(uctx, sc, f)
		cancel()
	}
}

// undoContext is the context an undo runs on: its own, so a cancelled run still undoes,
// bounded by CleanupBound, stopped by a second signal or the loss of the lock.
func (r *run) undoContext(parent context.Context) (context.Context, context.CancelFunc) {
	base, cancelBase := context.WithTimeout(context.WithoutCancel(parent), CleanupBound(r.cfg))
	ctx, cancel := r.guard(base, true)
	return ctx, func() { cancel(); cancelBase() }
}

func (r *run) collector() diagnose.Collector {
	return diagnose.Collector{Client: r.d.Clients.Typed, Secrets: r.cfg.SecretValues()}
}

func (r *run) watcher() *health.Watcher {
	return &health.Watcher{Client: r.d.Clients.Typed, Clock: r.d.Clock, Budgets: r.d.Budgets,
		Progress: func(line string) { r.d.Log.Debug("rollout", "status", line) },
		// No longer than the lock stays safe: past that the run stops writing anyway.
		APILossBound: kube.SafeFor}
}

// latest returns the release's newest revision number (0 when unknown).
func (r *run) latest() int {
	h, err := r.d.Helm.History(r.cfg.Release)
	if err != nil || len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Version
}

// cleanup handles a failed (or cancelled) rollout: diagnose while the evidence exists, roll
// back to the last good revision and verify it, then mark the failed revision failed (only
// once a rollback has replaced it: until then it is what the cluster serves, and the lock
// records that its rollback is due). It runs on a context of its own, bounded by
// CleanupBound, stopped by a second signal or the loss of the lock.
func (r *run) cleanup(parent context.Context, since time.Time, res *health.Result, why string, reason diagnose.Category) {
	ctx, cancel := r.undoContext(parent)
	defer cancel()
	cfg := r.cfg
	reason, why = r.diagnose(ctx, res, "rollout", reason, why)
	r.out.FailureReason = reason
	r.phase(ctx, kube.PhaseRollingBack, r.out.Revision)
	rb := r.rollbacker()
	rb.Replaces, rb.ReplacesWhy = r.out.Revision, "Shepherd: failed: "+string(reason)+": "+why
	chain, err := rb.Cascade(ctx, cfg.Release, r.out.Revision, 0, cfg.MaxCascade,
		func(int) string { return fmt.Sprintf("Shepherd: rollback from %d (%s)", r.out.Revision, reason) }, r.verifyHealth)
	r.recordChain(ctx, chain)
	final := lastAttempt(chain)
	switch {
	case errors.Is(err, rollback.ErrNoGoodRevision):
		// Nothing else to serve: the failed revision is all there is, and says so.
		if merr := r.d.Helm.MarkFailed(cfg.Release, r.out.Revision, words.Truncate(rb.ReplacesWhy, 200)); merr != nil {
			r.event(ctx, "rollback", Warn, "could not mark revision %d failed: %v", r.out.Revision, merr)
		}
		r.fail(ctx, "rollback", reason, "revision %d failed (%s) and there is no earlier good revision to roll back to; the release is left marked failed: %s", r.out.Revision, reason, why)
	case err != nil:
		r.unfinished = true
		stopped := err
		if c := context.Cause(ctx); c != nil {
			stopped = c
		}
		r.fail(ctx, "rollback", reason, "revision %d failed (%s: %s) and its rollback did not finish: %v; the release lock keeps phase rolling-back for revision %d, so the next Shepherd run of %s finishes the rollback first", r.out.Revision, reason, why, kube.Explain(stopped), r.out.Revision, cfg.Release)
	case final == nil || !final.Verified():
		r.fail(ctx, "verify", reason, "revision %d failed (%s: %s) and no earlier revision verified (tried %s)", r.out.Revision, reason, why, tried(chain))
	default:
		r.out.Status = RolledBack
		r.out.Message = fmt.Sprintf("revision %d failed (%s: %s); rolled back to revision %d", r.out.Revision, reason, why, final.Target)
	}
}

// diagnose gathers the evidence of a failed check (res's signals; check names it: rollout,
// smoke test, grace period) while it exists, records
// it in the outcome and returns the failure's category and one-line reason (reason and why
// when there is no evidence).
func (r *run) diagnose(ctx context.Context, res *health.Result, check string, reason diagnose.Category, why string) (diagnose.Category, string) {
	if res == nil || len(res.Signals) == 0 {
		return reason, why
	}
	sig := res.Signals[0]
	reason = sig.Category
	r.event(ctx, "watch", Error, "%s failed: %s %s: %s", check, sig.Object, sig.Reason, sig.Message)
	dctx, dcancel := context.WithTimeout(ctx, DiagnoseTimeout)
	diag, err := r.collector().Collect(dctx, r.cfg.Namespace, res.Selector, res.Signals)
	dcancel()
	if err != nil {
		r.event(ctx, "diagnose", Warn, "diagnosis incomplete: %v", err)
	}
	diag = surgeStalled(diag, r.surged)
	r.out.Diagnosis = &diag
	r.event(ctx, "diagnose", Info, "%s: %s", diag.Category, diag.Summary)
	if why == "" {
		why = diag.Summary
	}
	return reason, why
}

// succeeded reports a deploy that went live: the revision, and where and how it got there
// (the strategy says, when it has more to say).
func (r *run) succeeded(ctx context.Context, c *cluster, sc strategy.Cluster) {
	r.out.Status = Succeeded
	r.out.Message = fmt.Sprintf("%s is on revision %d", r.cfg.Release, r.out.Revision)
	if s, ok := sc.(interface{ Succeeded() string }); ok {
		r.out.Message += s.Succeeded()
	}
	if c.noWorkloads {
		r.out.Message += "; the chart has no Deployment, StatefulSet or DaemonSet, so there was no rollout to watch"
	}
	r.event(ctx, "done", Info, "%s", r.out.Message)
}
