package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// begin is what every writing run does first: check the cluster answers, take the release's
// lock (waiting for a live run, taking over a dead one's), and bring a release left stuck by
// an interrupted run back to a state Helm accepts. It returns the function that frees the
// lock, recording phase ("" keeps the last one recorded).
func (r *run) begin(ctx context.Context) (end func(phase kube.Phase), err error) {
	cs := r.d.Clients.Typed
	if err := r.reachable(ctx); err != nil {
		return nil, err
	}
	if err := r.namespaceExists(ctx); err != nil { // before the lock: its error would not say this
		return nil, err
	}
	owner := r.cfg.Owner
	if owner == "" {
		owner = "shepherd"
	}
	// Unique per process: two jobs of one workflow run never count as one holder.
	lock, err := kube.Acquire(ctx, cs, r.cfg.Namespace, r.cfg.Release, kube.HolderID(owner), r.cfg.LockTimeout)
	if err != nil {
		return nil, err
	}
	r.lock = lock
	end = func(phase kube.Phase) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := lock.Release(cctx, phase); err != nil {
			r.event(cctx, "done", Warn, "could not free the release lock (it expires by itself in %s): %v", kube.LeaseDuration, err)
		}
	}
	if p := lock.Previous; p.Expired {
		r.event(ctx, "lock", Warn, "took over the lock of an interrupted run (%s, last phase %q, revision %s)",
			p.Holder, p.Phase, words.OrDefault(p.Revision, "unknown"))
	}
	if err := r.recoverStuck(ctx); err != nil {
		end("")
		return nil, err
	}
	if err := r.finishInterrupted(ctx); err != nil {
		end("")
		return nil, err
	}
	return end, nil
}

// reachable checks that the cluster answers.
func (r *run) reachable(ctx context.Context) error {
	if _, err := r.d.Clients.Typed.Discovery().RESTClient().Get().AbsPath("/version").DoRaw(ctx); err != nil {
		return fmt.Errorf("the cluster at %s does not answer: %v", r.d.Clients.Config.Host, err)
	}
	return nil
}

// phase records what the run is doing on the lock, for the next run to read if this one dies.
func (r *run) phase(ctx context.Context, phase kube.Phase, revision int) {
	r.state(ctx, phase, revision, map[string]string{kube.AnnotationStrategy: string(config.StrategyRolling)})
}

// state records the phase with a strategy's notes on the lock. Recovery acts on what it
// finds there, so a step that the next run must be able to finish or undo (a switch, a
// scale-down, a retirement) does not start when its state could not be recorded: callers of
// those steps check the error and stop (fail closed).
func (r *run) state(ctx context.Context, phase kube.Phase, revision int, notes map[string]string) error {
	if r.lock == nil {
		return nil
	}
	r.wrote = true
	if err := r.lock.SetState(ctx, phase, revision, r.withoutOthers(notes)); err != nil {
		r.d.Log.Debug("record phase", "err", err)
		return fmt.Errorf("could not record phase %s of revision %d on the release lock, so this step did not start (the next run could not finish it): %w", phase, revision, kube.Explain(err))
	}
	return nil
}

// recoverStuck handles a release whose last revision is pending-install|upgrade|rollback
// ("another operation is in progress"). We hold the lock, so no live Shepherd run is working on
// it: the operation was interrupted. Mark it failed (history is never deleted) and go on.
func (r *run) recoverStuck(ctx context.Context) error {
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil || len(hist) == 0 {
		return err
	}
	last := hist[len(hist)-1]
	if !last.Info.Status.IsPending() {
		return nil
	}
	desc := fmt.Sprintf("Shepherd: recovered from %s left by an interrupted operation", last.Info.Status)
	if err := r.d.Helm.MarkFailed(r.cfg.Release, last.Version, desc); err != nil {
		return fmt.Errorf("recover release %s stuck in %s: %w", r.cfg.Release, last.Info.Status, kube.Explain(err))
	}
	r.recovered(ctx, Warn, "revision %d was stuck in %s (an interrupted operation); marked it failed and went on", last.Version, last.Info.Status)
	return nil
}

// finishInterrupted finishes the work an earlier run left, as its phase on the lock says:
//
//   - deploying N (the run died mid-rollout) and N is still live: check N's rollout; if it is
//     not healthy, roll back to the last good revision before it, as that run would have;
//   - rolling-back N (the run died, was stopped or lost its lock mid-rollback): if a later
//     revision (the rollback) is live and healthy, that run's rollback landed; otherwise roll
//     back from N again. Mode rollback does it as its own rollback instead (resumeFrom).
//
// What it did goes to the summary (Recovered); this run's outcome stays this run's.
func (r *run) finishInterrupted(ctx context.Context) (err error) {
	prev := r.lock.Previous
	rev, _ := strconv.Atoi(prev.Revision)
	if !prev.Phase.Unfinished() || rev == 0 {
		return nil
	}
	who := "the previous run"
	if prev.Expired {
		who = "the interrupted run"
	}
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil || len(hist) == 0 {
		return err
	}
	handled, after, err := r.finishStrategy(ctx, prev.Notes, rev, who, hist)
	if handled || err != nil {
		return err
	}
	if after != nil {
		defer func() { err = after(err) }()
	}
	last := hist[len(hist)-1]
	var why string
	switch {
	case prev.Phase == kube.PhaseDeploying && (last.Version != rev || last.Info.Status != helmrelease.StatusDeployed):
		return nil // someone has moved on since
	case prev.Phase == kube.PhaseRollingBack && last.Version == rev:
		why = fmt.Sprintf("%s found revision %d bad and its rollback did not finish", who, rev)
	default: // deploying N and N live, or rolling-back N with a later revision live: is it healthy?
		healthy, err := r.leftHealthy(ctx, last, rev, who, hist)
		if err != nil || healthy {
			return err
		}
		if prev.Phase == kube.PhaseDeploying {
			why = fmt.Sprintf("revision %d, left mid-rollout by %s, is not healthy", rev, who)
		} else {
			why = fmt.Sprintf("the rollback %s left (revision %d) is not healthy", who, last.Version)
		}
	}
	if r.cfg.Mode == config.ModeRollback {
		r.resumeFrom = rev
		r.recovered(ctx, Warn, "%s: this rollback finishes it", why)
		return nil
	}
	r.recovered(ctx, Warn, "%s: finishing its rollback", why)
	own := r.out
	r.out = Outcome{Mode: own.Mode, Release: own.Release, Namespace: own.Namespace, Revision: rev, Timeline: own.Timeline}
	r.cleanup(ctx, time.Now(), nil, why, diagnose.Deadline)
	done, failed := r.out, r.out.Status != RolledBack
	own.Timeline, own.Recovered = done.Timeline, own.Recovered+"; "+done.Message
	r.out = own
	if failed {
		return &finishError{reason: done.FailureReason, error: fmt.Errorf("finishing the rollback %s left: %s", who, done.Message)}
	}
	r.unfinished = false
	return nil
}

// finishStrategy lets the strategy whose work the Lease's notes record finish what an
// interrupted run (who) left at revision rev: done when it did (err is how it went). after,
// when set, ends a canary's promotion once the engine has checked its stable track as it
// checks a rolling deploy (given that check's error, it returns the run's).
func (r *run) finishStrategy(ctx context.Context, notes map[string]string, rev int, who string, hist []*helmrelease.Release) (done bool, after func(error) error, err error) {
	if l := r.recordedBy(notes); l != nil {
		return l.finish(ctx, notes, rev, who, hist)
	}
	return false, nil, nil
}

// leftHealthy checks the revision an interrupted run left live (last; rev is the one its phase
// names): healthy is reported and recorded; not knowing is an error, never "unhealthy".
func (r *run) leftHealthy(ctx context.Context, last *helmrelease.Release, rev int, who string, hist []*helmrelease.Release) (bool, error) {
	prev := r.lock.Previous
	wl, err := release.WorkloadsOf(last.Manifest)
	if err != nil {
		return false, err
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	res, werr := r.watcher().Watch(wctx, health.TargetFor(r.cfg.Namespace, wl, time.Time{}))
	cancel()
	if werr != nil && (ctx.Err() != nil || !errors.Is(werr, context.DeadlineExceeded)) {
		return false, fmt.Errorf("could not check revision %d, left by %s (phase %s): %w", last.Version, who, prev.Phase, werr)
	}
	if !res.Ready || last.Info.Status != helmrelease.StatusDeployed {
		return false, nil
	}
	r.recovered(ctx, Info, "revision %d, left by %s (phase %s, revision %d), is healthy", last.Version, who, prev.Phase, rev)
	if prev.Phase == kube.PhaseRollingBack && last.Version != rev {
		strategy.MarkFailedIfLive(session{r: r}, rev, hist, fmt.Sprintf("Shepherd: failed; %s rolled it back", who))
	}
	return true, nil
}

// finishError is a failure to finish an earlier run's rollback: unlike a pre-flight error,
// something may have been written.
type finishError struct {
	reason diagnose.Category
	error
}

func (e *finishError) Unwrap() error { return e.error }

// recovered records what was found or done about an earlier run's work.
func (r *run) recovered(ctx context.Context, lvl Level, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.out.Recovered = strings.TrimPrefix(r.out.Recovered+"; "+msg, "; ")
	r.event(ctx, "recover", lvl, "%s", msg)
}

func revisions(hist []*helmrelease.Release) []Revision {
	out := make([]Revision, 0, len(hist))
	for _, h := range hist {
		rv := Revision{Revision: h.Version, Status: string(h.Info.Status), Description: h.Info.Description,
			Updated: h.Info.LastDeployed.Time}
		if h.Chart != nil && h.Chart.Metadata != nil {
			rv.Chart = h.Chart.Metadata.Name + "-" + h.Chart.Metadata.Version
			rv.AppVersion = h.Chart.Metadata.AppVersion
			rv.ChartSource = h.Chart.Metadata.Annotations[charts.AnnotationSource]
			rv.ChartDigest = h.Chart.Metadata.Annotations[charts.AnnotationDigest]
		}
		rv.Images = release.Images(h.Manifest)
		out = append(out, rv)
	}
	return out
}

func versions(hist []*helmrelease.Release) string {
	v := make([]string, len(hist))
	for i, h := range hist {
		v[i] = strconv.Itoa(h.Version)
	}
	return strings.Join(v, ", ")
}
