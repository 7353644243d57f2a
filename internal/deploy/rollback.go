package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	helmrelease "helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/rollback"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
)

// rollback is mode rollback: to the named revision, or the last good one before the current,
// verified like a deploy and then through a steady window; cascading to older good revisions
// while verification fails. The reason goes to Helm history, an Event, the summary and outputs.
func (r *run) rollback(ctx context.Context) {
	cfg := r.cfg
	r.out.Reason = words.OrDefault(cfg.Reason, "no reason given")
	hist, err := r.d.Helm.History(cfg.Release)
	if err != nil {
		r.fail(ctx, "rollback", "", "%v", kube.Explain(err))
		return
	}
	if len(hist) == 0 {
		r.fail(ctx, "rollback", "", "release %s does not exist in namespace %s: nothing to roll back", cfg.Release, cfg.Namespace)
		return
	}
	current := hist[len(hist)-1].Version
	r.out.PreviousRevision, r.out.HistoryRead = current, true
	for _, l := range r.lifecycles() {
		if l.rollback(ctx, hist) {
			return
		}
	}
	from := current // the revision the rollback leaves
	if r.resumeFrom > 0 && cfg.Revision == 0 {
		from = r.resumeFrom // an earlier run's unfinished rollback: leave what it was leaving
	}
	if !r.targetExists(ctx, hist, current) {
		return
	}
	if !r.confirmRollback(ctx, hist, from) {
		r.fail(ctx, "rollback", "", "rollback not confirmed: nothing was changed")
		return
	}
	r.event(ctx, "rollback", Info, "rolling %s back from revision %d to %s: %s", cfg.Release, from, targetName(cfg.Revision), r.out.Reason)
	r.phase(ctx, kube.PhaseRollingBack, from)
	rb := r.rollbacker()
	if r.resumeFrom > 0 {
		rb.Replaces, rb.ReplacesWhy = r.resumeFrom, "Shepherd: failed; rolled back: "+r.out.Reason
	}
	chain, err := rb.Cascade(ctx, cfg.Release, from, cfg.Revision, cfg.MaxCascade,
		func(target int) string {
			return words.Truncate(fmt.Sprintf("Shepherd rollback to %d: %s", target, r.out.Reason), 200)
		},
		r.verifyFull)
	r.recordChain(ctx, chain)
	r.cascaded(ctx, chain, err, current, from)
}

// targetExists checks the revision asked for (none: the last good one) against the history; a
// failure says what exists.
func (r *run) targetExists(ctx context.Context, hist []*helmrelease.Release, current int) bool {
	cfg := r.cfg
	if cfg.Revision == 0 {
		return true
	}
	found := false
	for _, h := range hist {
		found = found || h.Version == cfg.Revision
	}
	switch {
	case !found:
		r.fail(ctx, "rollback", "", "revision: %d does not exist; release %s has revisions %s", cfg.Revision, cfg.Release, versions(hist))
		return false
	case cfg.Revision == current:
		r.fail(ctx, "rollback", "", "revision: %d is the current revision; nothing to roll back", cfg.Revision)
		return false
	}
	return true
}

// cascaded ends a rollback from how its cascade went: verified, no good revision, or not
// finished (the lock keeps its phase for the next run).
func (r *run) cascaded(ctx context.Context, chain []rollback.Attempt, err error, current, from int) {
	cfg := r.cfg
	final := lastAttempt(chain)
	switch {
	case errors.Is(err, rollback.ErrNoGoodRevision):
		r.fail(ctx, "rollback", "", "no revision before %d was deployed successfully: nothing to roll back to", current)
	case err != nil:
		r.unfinished = true
		if c := context.Cause(ctx); c != nil {
			err = c
		}
		r.fail(ctx, "rollback", r.out.FailureReason, "the rollback did not finish: %v; the release lock keeps phase rolling-back for revision %d, so the next Shepherd run of %s finishes it", kube.Explain(err), from, cfg.Release)
	case final == nil || !final.Verified():
		r.fail(ctx, "verify", r.out.FailureReason, "no rollback target verified (tried %s)", tried(chain))
	default:
		r.out.Status, r.out.Revision = RolledBack, final.NewRevision
		r.out.Message = fmt.Sprintf("%s rolled back to revision %d (now revision %d), verified: %s", cfg.Release, final.Target, final.NewRevision, r.out.Reason)
		r.event(ctx, "done", Info, "%s", r.out.Message)
	}
}

// RollbackPlan is what a rollback is about to do, for a person to confirm.
type RollbackPlan = outcome.RollbackPlan

// history is mode history: the release's revisions, newest last.
func (r *run) history(ctx context.Context) {
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil {
		r.fail(ctx, "history", "", "%v", kube.Explain(err))
		return
	}
	if len(hist) == 0 {
		r.fail(ctx, "history", "", "release %s does not exist in namespace %s", r.cfg.Release, r.cfg.Namespace)
		return
	}
	r.out.Revisions = revisions(hist)
	r.out.Status, r.out.Revision, r.out.HistoryRead = Succeeded, hist[len(hist)-1].Version, true
	r.out.Message = fmt.Sprintf("%s has %d revisions; revision %d is %s", r.cfg.Release, len(hist), r.out.Revision, hist[len(hist)-1].Info.Status)
}

func (r *run) rollbacker() rollback.Rollbacker {
	return rollback.Rollbacker{Helm: r.d.Helm, Watcher: r.watcher(), Namespace: r.cfg.Namespace, Now: r.d.Clock.Now,
		AttemptTimeout: r.cfg.Timeout, Force: r.forceRollback, NotAVersion: r.notAVersion}
}

// verifyHealth checks health_url, when set, after a rolled-back rollout completed.
func (r *run) verifyHealth(ctx context.Context, _ rollback.Attempt) *diagnose.Signal {
	return r.checkHealth(ctx)
}

// checkHealth asks health_url (when set) until it answers healthy or health_timeout passes.
func (r *run) checkHealth(ctx context.Context) *diagnose.Signal {
	if r.cfg.HealthURL == "" {
		return nil
	}
	r.waitEvent(ctx, "health-check", r.cfg.HealthTimeout, "asking %s until it answers healthy (up to %s)", r.cfg.HealthURL, r.cfg.HealthTimeout)
	hctx, cancel := context.WithTimeout(ctx, r.cfg.HealthTimeout)
	defer cancel()
	if err := health.CheckHTTP(hctx, r.d.HTTP, r.cfg.HealthURL, r.d.HealthInterval); err != nil {
		return &diagnose.Signal{Category: diagnose.HealthCheck, Object: r.cfg.HealthURL, Reason: "Unhealthy", Message: err.Error()}
	}
	return nil
}

// verifyFull is verifyHealth, then a window of verify_duration in which no pod of the release
// restarts or goes unready.
func (r *run) verifyFull(ctx context.Context, a rollback.Attempt) *diagnose.Signal {
	if s := r.verifyHealth(ctx, a); s != nil {
		return s
	}
	sel := a.Result.Selector
	if sel == nil {
		sel = labels.Everything()
	}
	r.waitEvent(ctx, "verify", r.cfg.VerifyDuration, "revision %d is up; watching it for %s", a.NewRevision, r.cfg.VerifyDuration)
	s, err := r.watcher().Steady(ctx, r.cfg.Namespace, sel, r.cfg.VerifyDuration)
	if err != nil {
		return &diagnose.Signal{Category: diagnose.Deadline, Object: a.Result.Workload, Reason: "Interrupted", Message: err.Error()}
	}
	return s
}

// recordChain puts the cascade's attempts in the outcome, with a verdict each, a diagnosis of
// the last failed one, and a Kubernetes Event on the Deployments saying what was done and why.
func (r *run) recordChain(ctx context.Context, chain []rollback.Attempt) {
	for _, a := range chain {
		verdict := "verified"
		if !a.Verified() {
			verdict = "failed"
			if s := a.Signals(); len(s) > 0 {
				verdict = "failed: " + string(s[0].Category) + ": " + s[0].Reason + " " + s[0].Message
				r.out.FailureReason = orCategory(r.out.FailureReason, s[0].Category)
				if r.out.Diagnosis == nil {
					diag, _ := r.collector().Collect(ctx, r.cfg.Namespace, a.Result.Selector, s)
					r.out.Diagnosis = &diag
				}
			}
		}
		verify := a.Verify
		if r.cfg.HealthURL == "" && (r.cfg.Mode != config.ModeRollback || r.cfg.VerifyDuration == 0) {
			verify = 0 // nothing to verify beyond the rollout: say so ("–"), not "0.0s"
		}
		r.out.Chain = append(r.out.Chain, Step{Target: a.Target, NewRevision: a.NewRevision, Verdict: verdict,
			Rollout: a.Duration, Verify: verify})
		r.out.RollbackRevision, r.out.RollbackNewRevision = a.Target, a.NewRevision
		lvl := Info
		if !a.Verified() {
			lvl = Error
		}
		timing := fmt.Sprintf("rolled out in %.1fs", a.Duration.Seconds())
		if verify > 0 {
			timing += fmt.Sprintf(", verified for %.1fs", verify.Seconds())
		}
		r.event(ctx, "rollback", lvl, "rolled back to revision %d (as revision %d): %s: %s", a.Target, a.NewRevision, timing, verdict)
		msg := fmt.Sprintf("Shepherd rolled %s back to revision %d (as revision %d): %s", r.cfg.Release, a.Target, a.NewRevision, words.OrDefault(r.out.Reason, "revision "+fmt.Sprint(r.out.Revision)+" failed"))
		a.Workloads.Each(func(kind, name string) {
			if err := kube.RecordEvent(ctx, r.d.Clients.Typed, r.cfg.Namespace, kind, name, "Normal", "ShepherdRollback", words.Truncate(msg, 1000)); err != nil {
				r.d.Log.Debug("record event", "err", err)
			}
		})
	}
}

func orCategory(c, def diagnose.Category) diagnose.Category {
	if c == "" {
		return def
	}
	return c
}

func lastAttempt(chain []rollback.Attempt) *rollback.Attempt {
	if len(chain) == 0 {
		return nil
	}
	return &chain[len(chain)-1]
}

func tried(chain []rollback.Attempt) string {
	var s []string
	for _, a := range chain {
		s = append(s, fmt.Sprint(a.Target))
	}
	if len(s) == 0 {
		return "none"
	}
	return "revision " + strings.Join(s, ", then ")
}

func targetName(rev int) string {
	if rev == 0 {
		return "the last good revision"
	}
	return fmt.Sprintf("revision %d", rev)
}

// confirmRollback asks Deps.Confirm (the CLI's question) about rolling back from revision from;
// true when there is no one to ask or the answer is yes.
func (r *run) confirmRollback(ctx context.Context, hist []*helmrelease.Release, from int) bool {
	cfg := r.cfg
	if r.d.Confirm == nil {
		return true
	}
	plan := RollbackPlan{Release: cfg.Release, Namespace: cfg.Namespace, From: from, To: cfg.Revision, Verify: cfg.VerifyDuration}
	if plan.To == 0 {
		if good := release.LastGood(hist, from, r.notAVersion); good != nil {
			plan.To = good.Version
		}
	}
	for _, h := range hist {
		switch h.Version {
		case plan.From:
			plan.FromImages = release.Images(h.Manifest)
		case plan.To:
			plan.ToImages = release.Images(h.Manifest)
		}
	}
	return plan.To == 0 || r.d.Confirm(ctx, plan)
}
