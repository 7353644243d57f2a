package canary

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// tracks is a canary in flight: its revision, its Deployments, its plan and its judges.
type tracks struct {
	rev     int
	names   []string       // the stable Deployments, sorted; the canary's are <name>-canary
	restore map[string]int // the stable replicas an abort goes back to
	n       map[string]int // the replicas the stages are planned from
	stages  []int
	splits  map[string][]Split
	// metrics observes the tracks (nil: pod health only).
	metrics analysis.Provider
	limits  analysis.Limits
	tick    time.Duration
	report  *outcome.CanaryReport
	pods    map[string]string // the pods placeholder per track, once read
	// baseline is the stable track's last observation with requests, and its stage: the
	// baseline of a stage where the stable track serves nothing (the last, at 100%).
	baseline      *analysis.Observation
	baselineStage int
	hpas          map[string]rewrite.HPA
	config        []string // the canary's copies of config, "Kind/name"
	// rt is how the weights are set (route "": the replica split); routed are the chart's
	// Services the route sends to, each with its track twins.
	rt     routing
	routed []string
}

// newTracks plans revision rev's canary: layout is its manifest's tracks, n the replicas to
// plan from.
func (c *Cluster) newTracks(rev int, layout TrackLayout, n map[string]int, stages []int, rt routing) (*tracks, error) {
	cfg := c.cfg
	t := &tracks{rev: rev, rt: rt, routed: layout.Routed, names: layout.Names(), restore: layout.Replicas, n: n, stages: stages, splits: map[string][]Split{}, hpas: layout.HPAs,
		config: slices.Sorted(maps.Keys(layout.CanaryConfig)),
		limits: analysis.Limits{ErrorRate: cfg.ErrorThreshold / 100, Latency: cfg.LatencyThreshold, MinRequests: float64(cfg.MinRequests),
			Alpha: cfg.Judge.Alpha, Baseline: cfg.Judge.Baseline == config.BaselineStable, MaxRatio: cfg.Judge.MaxErrorRatio},
		tick: min(5*time.Second, max(time.Second, cfg.Interval/10))}
	for _, name := range t.names {
		want := n[name]
		if want == 0 {
			want = layout.Replicas[name]
		}
		s, err := t.plan(stages, want)
		if err != nil {
			return nil, fmt.Errorf("planning Deployment %s: %w", name, err)
		}
		t.splits[name] = s
	}
	if len(t.names) == 0 {
		return nil, fmt.Errorf("the release's revision %d has no stable Deployment", rev)
	}
	rep := &outcome.CanaryReport{Metrics: cfg.HasPrometheus(), ErrorLimit: fmt.Sprintf("%g%%", cfg.ErrorThreshold)}
	if cfg.LatencyThreshold > 0 {
		rep.LatencyLimit = analysis.FormatSeconds(cfg.LatencyThreshold.Seconds())
	}
	for _, s := range t.splits[t.names[0]] {
		rep.Stages = append(rep.Stages, outcome.StageReport{Requested: s.Requested, Actual: s.Actual(), Canary: s.Canary, Stable: s.Stable, ErrorRate: -1})
	}
	if c.metrics != nil {
		var err error
		if t.metrics, err = c.metrics(); err != nil {
			return nil, err
		}
	}
	t.report = rep
	c.out().Canary = rep
	return t, nil
}

// plan is the stages' splits for n replicas: exact weights on a route, else replica splits.
func (t *tracks) plan(stages []int, n int) ([]Split, error) {
	if t.rt.route != "" {
		return PlanRouted(stages, n, t.rt.fixed)
	}
	return PlanCanary(stages, n)
}

func (t *tracks) canaryNames() []string {
	out := make([]string, len(t.names))
	for i, n := range t.names {
		out[i] = n + CanarySuffix
	}
	return out
}

// notes are the Lease notes of the canary at stage (1-based; 0 before the first).
func (t *tracks) notes(stage int) map[string]string {
	reps := make([]string, len(t.names))
	for i, n := range t.names {
		reps[i] = fmt.Sprintf("%s=%d", n, t.n[n])
	}
	preview := ""
	if t.rt.header != "" {
		preview = t.rt.header + ": " + t.rt.value
	}
	return map[string]string{kube.AnnotationStrategy: string(config.StrategyCanary), NoteStage: strconv.Itoa(stage),
		NoteStages: joinInts(t.stages), NoteReplicas: strings.Join(reps, ","), NotePromoting: "",
		strategy.NoteRoute: t.rt.route, NoteCanaryScale: strconv.Itoa(t.rt.fixed), NotePreview: preview}
}

// parseReplicas reads the Lease's "web=4,api=2".
func parseReplicas(s string) map[string]int {
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if n, err := strconv.Atoi(v); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// router is how the canary's traffic moves: the replica split (router_replicas.go), or
// exact weights on an HTTPRoute (router_gateway.go).
func (c *Cluster) router() Router {
	if c.tr != nil && c.tr.rt.route != "" {
		return gatewayRouter{c: c}
	}
	return replicaRouter{c: c}
}

// FirstInstall: the release has no revision yet.
func (c *Cluster) FirstInstall() bool {
	return c.plan != nil && c.plan.first
}

// Stages is the number of stages planned.
func (c *Cluster) Stages() int { return len(c.tr.stages) }

// UpgradeCanary is a Helm upgrade whose post-renderer keeps the stable Deployments and adds the
// canary's at zero replicas (see Canarize); the revision is labelled as a canary's.
func (c *Cluster) UpgradeCanary(ctx context.Context) (strategy.Revision, error) {
	cfg, p := c.cfg, c.plan
	desc := fmt.Sprintf("Shepherd canary: %s beside the stable track (stages %s)", words.OrDefault(cfg.ImageTag, "chart defaults"), joinInts(cfg.Stages))
	rel, rev, err := c.s.Apply(ctx, strategy.Apply{
		Description: desc, PostRender: p.PostRender, Labels: map[string]string{TrackLabel: TrackCanary}})
	if err != nil {
		return rev, err
	}
	l, err := ReadTracks(rel.Manifest)
	if err != nil {
		return strategy.Revision{Number: rel.Version}, fmt.Errorf("cannot read the release manifest: %w", err)
	}
	if c.tr, err = c.newTracks(rel.Version, l, p.replicas, cfg.Stages, routingOf(cfg)); err != nil {
		return strategy.Revision{Number: rel.Version}, err
	}
	if err := c.state(ctx, kube.PhaseDeploying, rel.Version, c.tr.notes(0)); err != nil {
		return strategy.Revision{Number: rel.Version}, err
	}
	first := c.tr.names[0]
	c.event(ctx, "upgrade", Info, "revision %d applied: %s as %s at 0 replicas, beside the stable track (previous revision: %s); %s runs at most %d pods while stages change (%d planned)",
		rel.Version, words.OrDefault(cfg.ImageTag, "the chart's version"), strings.Join(c.tr.canaryNames(), ", "), words.RevName(c.out().PreviousRevision),
		first, MaxTotal(c.tr.splits[first], c.tr.n[first]), c.tr.n[first])
	if !c.tr.report.Metrics {
		c.event(ctx, "canary", Warn, "no prometheus_url: each stage is judged on the canary's pod health only, no metrics are analysed")
	}
	return strategy.Revision{Number: rel.Version, Workloads: release.Workloads{Deployments: c.tr.canaryNames()}}, nil
}

// SetStage scales the canary up to stage i's replicas, watches it ready, then scales the
// stable track down: capacity never drops below the stage's.
func (c *Cluster) SetStage(ctx context.Context, i int) (health.Result, error) {
	t := c.tr
	if _, err := c.router().SetWeight(ctx, t.stages[i]); err != nil {
		if nr, werr, ok := AsNotReady(err); ok {
			return nr, werr // as the watch ended: its result, and its error if any
		}
		return health.Result{}, err
	}
	res := c.watched
	st := &t.report.Stages[i]
	st.Ran, t.report.Weight = true, int(math.Round(st.Actual))
	if err := c.state(ctx, kube.PhaseDeploying, t.rev, t.notes(i+1)); err != nil {
		return res, err
	}
	c.event(ctx, "stage", Info, "stage %d/%d: %d%% asked, %s live (%d canary + %d stable pods of %s)",
		i+1, len(t.stages), st.Requested, pct(st.Actual), st.Canary, st.Stable, t.names[0])
	if s := t.splits[t.names[0]][i]; !s.Exact() {
		c.event(ctx, "stage", Warn, "stage %d: %d replicas cannot give %d%%; the closest split gives %s", i+1, t.n[t.names[0]], st.Requested, pct(st.Actual))
	}
	return res, nil
}

func pct(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f%%", f)
	}
	return fmt.Sprintf("%.1f%%", f)
}

func joinInts(ws []int) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = strconv.Itoa(w)
	}
	return strings.Join(s, ",")
}

// Pause records the canary as awaiting promotion at stage i (0-based): it keeps serving at
// that weight until mode promote or abort.
func (c *Cluster) Pause(ctx context.Context, rev, i int) {
	t := c.tr
	c.state(ctx, kube.PhaseAwaitingPromotion, rev, t.notes(i+1))
	c.out().Status = outcome.AwaitingPromotion
	if i < 0 {
		c.out().Message = fmt.Sprintf("revision %d's canary is applied at 0%% of traffic", rev)
	} else {
		st := t.report.Stages[i]
		c.out().Message = fmt.Sprintf("revision %d's canary passed stages 1–%d and serves %s of traffic (%d canary + %d stable pods)", rev, i+1, pct(st.Actual), st.Canary, st.Stable)
	}
	c.out().Message += ". Run again with mode: promote to finish (the last stage, then the stable track on the new version), or mode: abort to drop it"
	c.event(ctx, "gate", Info, "%s", c.out().Message)
}

// PromoteStable upgrades the stable track to the canary's version: a Helm upgrade from the
// canary revision's chart and values, the canary's Deployments kept at the replicas they run.
func (c *Cluster) PromoteStable(ctx context.Context) (strategy.Revision, error) {
	t := c.tr
	canaryRel, err := c.revisionRelease(t.rev)
	if err != nil {
		return strategy.Revision{}, err
	}
	l, err := ReadTracks(canaryRel.Manifest)
	if err != nil {
		return strategy.Revision{}, err
	}
	live, err := c.canaryCounts(ctx, t.names)
	if err != nil {
		return strategy.Revision{}, err
	}
	ch := c.chart
	if ch == nil {
		if ch, err = c.s.ChartOf(ctx, canaryRel); err != nil {
			return strategy.Revision{}, err
		}
	}
	keepRoute, err := c.keepRouting(ctx, canaryRel.Manifest)
	if err != nil {
		return strategy.Revision{}, err
	}
	notes := t.notes(len(t.stages))
	notes[NotePromoting] = strconv.Itoa(t.rev)
	if err := c.state(ctx, kube.PhaseDeploying, t.rev, notes); err != nil {
		return strategy.Revision{}, err
	}
	rel, rev, err := c.s.Apply(ctx, strategy.Apply{Chart: ch, Values: canaryRel.Config,
		Description: fmt.Sprintf("Shepherd canary: promoted revision %d's version after %d stages", t.rev, len(t.stages)),
		// Not the canary's label, which Helm's upgrade would keep: the stable track runs it.
		Labels: map[string]string{TrackLabel: TrackPromoted},
		PostRender: func(m string) (string, error) {
			// The stable track at N, what ran before the stages: an HPA's target, or a chart
			// without replicas, would otherwise stay at the 0 of the last stage.
			m, err := rewrite.WithRunCounts(m, t.n)
			if err == nil { // a change of config alone still rolls the stable pods
				m, err = rewrite.StampConfig(m)
			}
			if err != nil {
				return "", err
			}
			if m, err = Promoted(m, l.Canary, live, l.CanaryConfig); err != nil {
				return "", err
			}
			return keepRoute(m)
		}})
	if err != nil {
		return rev, err
	}
	if err := c.state(ctx, kube.PhaseDeploying, rel.Version, notes); err != nil {
		return strategy.Revision{Number: rel.Version}, err
	}
	c.event(ctx, "promote", Info, "revision %d applied: the stable track (%s) takes revision %d's version; the canary serves until it is ready",
		rel.Version, strings.Join(t.names, ", "), t.rev)
	return strategy.Revision{Number: rel.Version, Workloads: release.Workloads{Deployments: t.names}}, nil
}

// canaryCounts are the replicas each track's canary Deployment runs, by the track's name.
func (c *Cluster) canaryCounts(ctx context.Context, names []string) (map[string]int, error) {
	live := map[string]int{}
	for _, name := range names {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name+CanarySuffix, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read %s%s: %w", name, CanarySuffix, kube.Explain(err))
		}
		live[name] = int(*d.Spec.Replicas)
	}
	return live, nil
}

// promotionChart is the chart that promoting canary revision rev renders, found before any
// stage runs, so that a chart that cannot be found again changes nothing.
func (c *Cluster) promotionChart(ctx context.Context, rev int) (*chart.Chart, error) {
	rel, err := c.revisionRelease(rev)
	if err != nil {
		return nil, err
	}
	return c.s.ChartOf(ctx, rel)
}

// revisionRelease is revision rev of the release, from Helm's history.
func (c *Cluster) revisionRelease(rev int) (*helmrelease.Release, error) {
	hist, err := c.s.History()
	if err != nil {
		return nil, err
	}
	for _, h := range hist {
		if h.Version == rev {
			return h, nil
		}
	}
	return nil, fmt.Errorf("revision %d of release %s is not in its history", rev, c.cfg.Release)
}

// Retire takes the canary to zero replicas once the stable track serves the new version.
func (c *Cluster) Retire(ctx context.Context) error {
	t := c.tr
	if t.rt.route != "" {
		return gatewayRouter{c: c}.retire(ctx)
	}
	for _, name := range t.canaryNames() {
		if err := c.scale(ctx, name, 0); err != nil {
			return err
		}
	}
	t.report.Weight = 100
	c.event(ctx, "promote", Info, "the stable track serves the new version; %s scaled to 0 (kept)", strings.Join(t.canaryNames(), ", "))
	return nil
}

// Diagnose records the evidence of a canary's failure.
func (c *Cluster) Diagnose(ctx context.Context, f *strategy.Failure) {
	check := "the canary's rollout"
	if f.Stage >= 0 && c.tr != nil && f.Stage < len(c.tr.stages) {
		check = fmt.Sprintf("canary stage %d/%d (%d%%)", f.Stage+1, len(c.tr.stages), c.tr.stages[f.Stage])
	}
	if f.Metrics() && f.Why == "" {
		f.Why = f.Result.Signals[0].Message
	}
	f.Reason, f.Why = c.s.Diagnose(ctx, f.Result, check, f.Reason, f.Why)
}

// Settle records how the canary's abort went, in the outcome and in Helm history.
func (c *Cluster) Settle(ctx context.Context, f *strategy.Failure, err error) {
	c.out().FailureReason = f.Reason
	why := words.OrDefault(f.Why, "no reason recorded")
	where := "before its first stage"
	if c.tr != nil && f.Stage >= 0 && f.Stage < len(c.tr.stages) {
		where = fmt.Sprintf("at stage %d/%d (%d%%)", f.Stage+1, len(c.tr.stages), c.tr.stages[f.Stage])
	}
	if err != nil {
		c.s.Unfinished()
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		c.fail(ctx, "abort", f.Reason, "the canary of revision %d failed %s (%s) and aborting it did not finish: %v; the release lock keeps phase %s for revision %d, so the next Shepherd run of %s finishes it",
			f.Revision, where, why, kube.Explain(err), c.s.Recorded(), f.Revision, c.cfg.Release)
		return
	}
	desc := words.Truncate(fmt.Sprintf("Shepherd canary: aborted %s: %s", where, why), 200)
	if merr := c.s.Mark(f.Revision, helmrelease.StatusFailed, desc); merr != nil {
		c.event(ctx, "abort", Warn, "could not mark revision %d failed: %v", f.Revision, merr)
	}
	stable := c.restoreStable(f.Revision)
	c.out().Status = outcome.RolledBack
	if strings.Contains(why, "stage ") {
		where = "" // the reason names the stage
	} else {
		where = " " + where
	}
	c.out().Message = fmt.Sprintf("the canary of revision %d was aborted%s: %s; the stable track (revision %s) serves 100%% again", f.Revision, where, why, words.RevName(stable))
	c.event(ctx, "done", Error, "%s", c.out().Message)
}

// restoreStable marks the revision the stable track runs (the newest before rev that Helm
// superseded and that ran no canary: a promotion's, or a plain one) deployed again, and
// returns it (0: none).
func (c *Cluster) restoreStable(rev int) int {
	hist, err := c.s.History()
	if err != nil {
		return 0
	}
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.Version >= rev || ranCanary(h) || h.Info == nil {
			continue
		}
		if h.Info.Status == helmrelease.StatusSuperseded {
			// Best effort: the history's status is a label for humans, not what serves.
			_ = c.s.Mark(h.Version, helmrelease.StatusDeployed, h.Info.Description)
		}
		if h.Info.Status != helmrelease.StatusFailed {
			return h.Version
		}
	}
	return 0
}
