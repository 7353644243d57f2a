package canary

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Modes is the canary's side of the engine's modes: promote and abort of a canary awaiting
// promotion, rollback while one is in flight, and finishing what an interrupted canary run
// left, each from the notes the Lease holds.
type Modes struct {
	Env
	// Previous is the Lease as the previous run left it: its phase and notes.
	kube.Previous
	// Undo is the context an undo runs on: its own, so that a cancelled run still undoes.
	Undo func(context.Context) (context.Context, context.CancelFunc)
	// undone is the canary revision an interrupted run left in flight that this run aborted.
	undone int
}

// Recorded reports whether the Lease's notes record canary work.
func Recorded(notes map[string]string) bool {
	return notes[kube.AnnotationStrategy] == string(config.StrategyCanary)
}

// Promoting reports whether the notes record a canary's promotion (the stable track's
// upgrade to the new version) rather than its stages.
func Promoting(notes map[string]string) bool { return notes[NotePromoting] != "" }

// Undone is the canary revision an interrupted run left in flight that this run aborted (0:
// none).
func (m *Modes) Undone() int { return m.undone }

// fromLease is revision rev's canary as the Lease's notes recorded it, and the number of
// stages it had passed.
func (m *Modes) fromLease(hist []*helmrelease.Release, rev int) (*Cluster, int, error) {
	c, notes := NewCluster(m.Env, nil), m.Notes
	l, err := ReadTracks(release.ManifestOf(hist, rev))
	if err != nil {
		return nil, 0, err
	}
	stages, err := config.ParseStages(notes[NoteStages])
	if err != nil {
		stages = c.cfg.Stages
	}
	if c.tr, err = c.newTracks(rev, l, parseReplicas(notes[NoteReplicas]), stages, routingFrom(notes)); err != nil {
		return nil, 0, err
	}
	t := c.tr
	passed, _ := strconv.Atoi(notes[NoteStage])
	passed = min(max(passed, 0), len(stages))
	for i := 0; i < passed; i++ {
		t.report.Stages[i].Ran, t.report.Stages[i].Verdict = true, "pass"
	}
	if passed > 0 {
		t.report.Weight = int(t.report.Stages[passed-1].Actual + 0.5)
	}
	return c, passed, nil
}

// Promote is mode promote of a canary awaiting promotion (revision rev): its remaining stages
// are run and judged, then the stable track takes its version.
func (m *Modes) Promote(ctx context.Context, rev int, hist []*helmrelease.Release) {
	c, passed, err := m.fromLease(hist, rev)
	if err == nil {
		c.chart, err = c.promotionChart(ctx, rev)
	}
	if err != nil {
		NewCluster(m.Env, nil).fail(ctx, "promote", "", "%v (nothing was changed)", err)
		return
	}
	out := c.out()
	out.Revision, out.PreviousRevision, out.HistoryRead = rev, rev, true
	live := "its share of traffic unknown"
	if w, werr := c.router().Weight(ctx); werr == nil {
		live = pct(w) + " of traffic live on it"
	}
	c.event(ctx, "promote", Info, "promoting revision %d's canary (%s): it passed %d of %d stages; the rest run now", rev, live, passed, len(c.tr.stages))
	k := Strategy{AutoPromote: true}
	res := k.Resume(ctx, c, rev, passed)
	if f := res.Failure; f != nil {
		if sr := strategy.StopRequestOf(ctx); sr != nil {
			f.Why, f.Cancelled = sr.Error(), true
		}
		uctx, cancel := m.Undo(ctx)
		defer cancel()
		k.Undo(uctx, c, f)
		return
	}
	out.Status = outcome.Succeeded
	out.Message = fmt.Sprintf("%s is on revision %d: revision %d's canary passed its last stage and was promoted", c.cfg.Release, out.Revision, rev)
	c.event(ctx, "done", Info, "%s", out.Message)
}

// Abort is mode abort of a canary awaiting promotion (or mode rollback while one is in
// flight): the canary to zero, the stable track back to full, the revision marked failed.
func (m *Modes) Abort(ctx context.Context, rev int, hist []*helmrelease.Release) {
	c, _, err := m.fromLease(hist, rev)
	if err != nil {
		NewCluster(m.Env, nil).fail(ctx, "abort", "", "%v (nothing was changed)", err)
		return
	}
	out := c.out()
	out.PreviousRevision, out.HistoryRead = rev, true
	if err := c.Abort(ctx, nil); err != nil {
		c.s.Unfinished()
		c.fail(ctx, "abort", "", "aborting revision %d's canary did not finish: %v; the next Shepherd run of %s finishes it", rev, err, c.cfg.Release)
		return
	}
	why := words.OrDefault(c.cfg.Reason, "no reason given")
	if err := c.s.Mark(rev, helmrelease.StatusFailed, words.Truncate("Shepherd canary: aborted before promotion: "+why, 200)); err != nil {
		c.event(ctx, "abort", Warn, "could not mark revision %d failed: %v", rev, err)
	}
	stable := c.restoreStable(rev)
	out.Status, out.Reason = outcome.Aborted, c.cfg.Reason
	out.Message = fmt.Sprintf("revision %d's canary was aborted before promotion (%s); the stable track (revision %s) serves 100%% again", rev, why, words.RevName(stable))
	c.event(ctx, "done", Info, "%s", out.Message)
}

// Finish takes back the canary an interrupted run (who) left in flight, in phase deploying or
// rolling-back of canary revision rev: the canary to zero, the stable track back to full. A
// rollback run counts it as its own work (Undone). wrote: the error came after a write.
func (m *Modes) Finish(ctx context.Context, rev int, who string, hist []*helmrelease.Release) (wrote bool, err error) {
	if hist[len(hist)-1].Version != rev {
		return false, nil // someone has moved on since
	}
	c, passed, err := m.fromLease(hist, rev)
	if err != nil {
		return false, err
	}
	c.out().Canary = nil // the interrupted run's canary: this run's report is its own
	c.recovered(ctx, Warn, "%s left revision %d's canary in flight (%d of %d stages passed): aborting it", who, rev, passed, len(c.tr.stages))
	if err := c.Abort(ctx, nil); err != nil {
		return true, fmt.Errorf("aborting the canary %s left: %w", who, err)
	}
	// Best effort: the history's status is a label for humans, not what serves.
	_ = c.s.Mark(rev, helmrelease.StatusFailed, words.Truncate(fmt.Sprintf("Shepherd canary: aborted; %s stopped in flight", who), 200))
	stable := c.restoreStable(rev)
	c.recovered(ctx, Info, "the stable track (revision %s) serves 100%% again", words.RevName(stable))
	m.undone = rev
	return false, nil
}

// retireCanaries takes the canary Deployments the notes name to zero (a promotion that an
// interrupted run left: the stable track serves the new version).
func (c *Cluster) retireCanaries(ctx context.Context, notes map[string]string) {
	var done []string
	for name := range parseReplicas(notes[NoteReplicas]) {
		if err := c.scale(ctx, name+CanarySuffix, 0); err == nil {
			done = append(done, name+CanarySuffix)
		}
	}
	if len(done) > 0 {
		c.recovered(ctx, Info, "the interrupted promotion's canary (%s) scaled to 0", strings.Join(done, ", "))
	}
}

// StageOf is the stage (1-based) the notes record a canary at ("0": before the first).
func StageOf(notes map[string]string) string {
	return words.OrDefault(notes[NoteStage], "0")
}

// Rollback is mode rollback on a canary in flight, awaiting promotion, or already taken back
// before this run's own work began (stopAsked: who this rollback asked to stop the run holding
// the canary, "" when it asked no one); it reports whether it was (the rollback is then done).
// abort is mode abort, as the engine runs it.
func (m *Modes) Rollback(ctx context.Context, hist []*helmrelease.Release, stopAsked string, abort func(context.Context)) bool {
	c := NewCluster(m.Env, nil)
	cfg, current, out := c.cfg, hist[len(hist)-1].Version, c.out()
	switch {
	case m.stopped(hist, stopAsked) > 0: // the run holding the canary aborted it at this rollback's request
		out.Status = outcome.RolledBack
		out.Message = fmt.Sprintf("%s: the canary of revision %d was aborted by the run that deployed it, at this rollback's request (%s); the stable track serves 100%% again",
			cfg.Release, current, out.Reason)
		c.event(ctx, "done", Info, "%s", out.Message)
	case m.undone > 0: // finishing the interrupted run's canary was this rollback
		out.Status = outcome.RolledBack
		out.Message = fmt.Sprintf("%s: the interrupted run's canary (revision %d) was aborted: %s", cfg.Release, m.undone, out.Recovered)
	case m.Phase == kube.PhaseAwaitingPromotion && Recorded(m.Notes):
		abort(ctx)
		if out.Status == outcome.Aborted {
			out.Status = outcome.RolledBack
		}
	default:
		return false
	}
	return true
}

// stopped reports, for a rollback that asked the lock's previous holder to stop, the
// canary revision that run aborted (0: it did not; the rollback goes on as usual).
func (m *Modes) stopped(hist []*helmrelease.Release, stopAsked string) int {
	if stopAsked == "" || m.Notes[kube.AnnotationStopBy] != stopAsked || len(hist) == 0 {
		return 0
	}
	last := hist[len(hist)-1]
	if !NotAVersion(last) || last.Info == nil || last.Info.Status != helmrelease.StatusFailed {
		return 0
	}
	return last.Version
}

// AskToStop is mode rollback's first step: when a live run holds the release with a
// canary in its stages, it asks that run to abort now instead of waiting for its stages to end.
func AskToStop(ctx context.Context, e Env, poll time.Duration) (by string) {
	c := NewCluster(e, nil)
	cfg, cs := c.cfg, c.typed()
	st, err := kube.Peek(ctx, cs, c.ns(), cfg.Release)
	if err != nil || st == nil || !st.Live || !Recorded(st.Notes) || st.Phase != kube.PhaseDeploying || Promoting(st.Notes) {
		return ""
	}
	reason := words.OrDefault(cfg.Reason, "no reason given")
	by = words.OrDefault(cfg.Owner, "shepherd")
	if err := kube.RequestStop(ctx, cs, c.ns(), cfg.Release, st.Holder, by, words.Truncate(reason, 500)); err != nil {
		c.event(ctx, "rollback", Warn, "could not ask the run holding %s to stop its canary (%v): waiting for the lock", cfg.Release, err)
		return ""
	}
	c.event(ctx, "rollback", Info, "%s holds %s with a canary in flight (stage %s): asked it to abort the canary now (%s); it notices within %s",
		st.Holder, cfg.Release, StageOf(st.Notes), reason, poll)
	return by
}
