package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// The canary's modes around the strategy: promote and abort of a canary awaiting promotion,
// rollback while one is in flight, and finishing what an interrupted canary run left.

// isCanary reports whether the lock's notes record canary work.
func isCanary(notes map[string]string) bool {
	return notes[kube.AnnotationStrategy] == string(config.StrategyCanary)
}

// canaryFromLease is revision rev's canary as the lock's notes recorded it, and the number of
// stages it had passed.
func (r *run) canaryFromLease(hist []*helmrelease.Release, rev int, notes map[string]string) (*canaryCluster, int, error) {
	l, err := strategy.ReadTracks(manifestOf(hist, rev))
	if err != nil {
		return nil, 0, err
	}
	stages, err := config.ParseStages(notes[strategy.NoteStages])
	if err != nil {
		stages = r.cfg.Stages
	}
	t, err := r.newTracks(rev, l, parseReplicas(notes[strategy.NoteReplicas]), stages, routingFrom(notes))
	if err != nil {
		return nil, 0, err
	}
	passed, _ := strconv.Atoi(notes[strategy.NoteStage])
	passed = min(max(passed, 0), len(stages))
	for i := 0; i < passed; i++ {
		t.report.Stages[i].Ran, t.report.Stages[i].Verdict = true, "pass"
	}
	if passed > 0 {
		t.report.Weight = int(t.report.Stages[passed-1].Actual + 0.5)
	}
	return &canaryCluster{cluster: &cluster{r: r, rev: rev}, tr: t}, passed, nil
}

// promoteCanary is mode promote of a canary awaiting promotion: its remaining stages are run
// and judged, then the stable track takes its version.
func (r *run) promoteCanary(ctx context.Context, rev int, hist []*helmrelease.Release) {
	c, passed, err := r.canaryFromLease(hist, rev, r.lock.Previous.Notes)
	if err == nil {
		c.chart, err = r.promotionChart(ctx, rev)
	}
	if err != nil {
		r.fail(ctx, "promote", "", "%v (nothing was changed)", err)
		return
	}
	r.out.Revision, r.out.PreviousRevision, r.out.HistoryRead = rev, rev, true
	live := "its share of traffic unknown"
	if w, werr := c.router().Weight(ctx); werr == nil {
		live = pct(w) + " of traffic live on it"
	}
	r.event(ctx, "promote", Info, "promoting revision %d's canary (%s): it passed %d of %d stages; the rest run now", rev, live, passed, len(c.tr.stages))
	r.wrote = true
	k := strategy.Canary{AutoPromote: true}
	res := k.Resume(ctx, c, rev, passed)
	if f := res.Failure; f != nil {
		if sr := stopRequest(ctx); sr != nil {
			f.Why, f.Cancelled = sr.Error(), true
		}
		uctx, cancel := r.undoContext(ctx)
		defer cancel()
		k.Undo(uctx, c, f)
		return
	}
	r.out.Status = Succeeded
	r.out.Message = fmt.Sprintf("%s is on revision %d: revision %d's canary passed its last stage and was promoted", r.cfg.Release, r.out.Revision, rev)
	r.event(ctx, "done", Info, "%s", r.out.Message)
}

// abortCanary is mode abort of a canary awaiting promotion (or mode rollback while one is in
// flight): the canary to zero, the stable track back to full, the revision marked failed.
func (r *run) abortCanary(ctx context.Context, rev int, hist []*helmrelease.Release) {
	c, _, err := r.canaryFromLease(hist, rev, r.lock.Previous.Notes)
	if err != nil {
		r.fail(ctx, "abort", "", "%v (nothing was changed)", err)
		return
	}
	r.out.PreviousRevision, r.out.HistoryRead = rev, true
	if err := c.Abort(ctx, nil); err != nil {
		r.unfinished = true
		r.fail(ctx, "abort", "", "aborting revision %d's canary did not finish: %v; the next Shepherd run of %s finishes it", rev, err, r.cfg.Release)
		return
	}
	why := orDefault(r.cfg.Reason, "no reason given")
	if err := r.d.Helm.MarkFailed(r.cfg.Release, rev, truncate("Shepherd canary: aborted before promotion: "+why, 200)); err != nil {
		r.event(ctx, "abort", Warn, "could not mark revision %d failed: %v", rev, err)
	}
	stable := r.restoreStable(rev)
	r.out.Status, r.out.Reason = Aborted, r.cfg.Reason
	r.out.Message = fmt.Sprintf("revision %d's canary was aborted before promotion (%s); the stable track (revision %s) serves 100%% again", rev, why, revName(stable))
	r.event(ctx, "done", Info, "%s", r.out.Message)
}

// finishCanary takes back the canary an interrupted run left in flight (phase deploying or
// rolling-back of canary revision rev): the canary to zero, the stable track back to full.
// A rollback run counts it as its own work.
func (r *run) finishCanary(ctx context.Context, rev int, who string, hist []*helmrelease.Release) error {
	if hist[len(hist)-1].Version != rev {
		return nil // someone has moved on since
	}
	c, passed, err := r.canaryFromLease(hist, rev, r.lock.Previous.Notes)
	if err != nil {
		return err
	}
	r.out.Canary = nil // the interrupted run's canary: this run's report is its own
	r.recovered(ctx, Warn, "%s left revision %d's canary in flight (%d of %d stages passed): aborting it", who, rev, passed, len(c.tr.stages))
	if err := c.Abort(ctx, nil); err != nil {
		return &finishError{error: fmt.Errorf("aborting the canary %s left: %w", who, err)}
	}
	if err := r.d.Helm.MarkFailed(r.cfg.Release, rev, truncate(fmt.Sprintf("Shepherd canary: aborted; %s stopped in flight", who), 200)); err != nil {
		r.d.Log.Debug("mark failed", "err", err)
	}
	stable := r.restoreStable(rev)
	r.recovered(ctx, Info, "the stable track (revision %s) serves 100%% again", revName(stable))
	r.canaryUndone = rev
	return nil
}

// retireCanaries takes the canary Deployments the lock's notes name to zero (a promotion that
// an interrupted run left: the stable track serves the new version).
func (r *run) retireCanaries(ctx context.Context, notes map[string]string) {
	var done []string
	for name := range parseReplicas(notes[strategy.NoteReplicas]) {
		if err := r.scale(ctx, name+strategy.CanarySuffix, 0); err == nil {
			done = append(done, name+strategy.CanarySuffix)
		}
	}
	if len(done) > 0 {
		r.recovered(ctx, Info, "the interrupted promotion's canary (%s) scaled to 0", strings.Join(done, ", "))
	}
}
