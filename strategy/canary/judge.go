package canary

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// Judge holds stage i for the interval: the canary's pods are watched the whole time (none
// may restart or go unready) and, with a metrics provider, its metrics are read every few
// seconds over the stage so far, beside the stable track's. Conclusive evidence stops the
// stage at once; otherwise it is judged on its whole window at the end.
func (c *Cluster) Judge(ctx context.Context, i int) (*diagnose.Signal, error) {
	t := c.tr
	st := &t.report.Stages[i]
	start := c.s.Clock().Now()
	defer func() { st.Held = c.s.Clock().Since(start) }()
	what := "pod health only"
	if t.metrics != nil {
		what = "pod health, error rate ≤ " + t.report.ErrorLimit
		if t.report.LatencyLimit != "" {
			what += ", p99 ≤ " + t.report.LatencyLimit
		}
	}
	c.waitEvent(ctx, "stage", c.cfg.Interval, "stage %d/%d: holding %s for %s, judging %s", i+1, len(t.stages), pct(st.Actual), c.cfg.Interval, what)

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type podVerdict struct {
		sig *diagnose.Signal
		err error
	}
	pods := make(chan podVerdict, 1)
	go func() {
		sig, err := c.s.Steady(pctx, t.canaryNames(), c.cfg.Interval)
		pods <- podVerdict{sig, err}
	}()
	judge := &analysis.StageJudge{Limits: t.limits}
	tick := c.s.Clock().NewTicker(t.tick)
	defer tick.Stop()
	for held := false; !held; {
		select {
		case p := <-pods:
			switch {
			case p.sig != nil:
				st.Verdict, st.Metric = "fail", "pods"
				return p.sig, nil
			case p.err != nil:
				return nil, p.err
			}
			held = true
		case <-tick.C():
			if t.metrics == nil {
				continue
			}
			if sig := c.observe(ctx, judge, i, start, false); sig != nil {
				return sig, nil
			}
		}
	}
	if t.metrics == nil {
		st.Verdict = "pass"
		return nil, nil
	}
	return c.decide(ctx, judge, i, start, tick)
}

// holdOn holds an inconclusive stage until enough requests came or the limit, judging its
// metrics as it goes and watching its pods as the stage itself did (none may restart or go
// unready): a signal when either fails.
func (c *Cluster) holdOn(ctx context.Context, judge *analysis.StageJudge, i int, start time.Time, limit time.Duration, tick clock.Ticker) (*diagnose.Signal, error) {
	t := c.tr
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pods := make(chan *diagnose.Signal, 1)
	go func() {
		sig, _ := c.s.Steady(pctx, t.canaryNames(), limit-c.s.Clock().Since(start))
		pods <- sig
	}()
	for c.s.Clock().Since(start) < limit {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case sig := <-pods:
			if sig != nil {
				t.report.Stages[i].Verdict, t.report.Stages[i].Metric = "fail", "pods"
				return sig, nil
			}
			pods = nil // held steady to the limit
			continue
		case <-tick.C():
		}
		if sig := c.observe(ctx, judge, i, start, false); sig != nil {
			return sig, nil
		}
		if judge.End().Verdict != analysis.NoData {
			return nil, nil
		}
	}
	return nil, nil
}

// decide judges the stage's whole window at its end. Too few requests to decide is
// inconclusive, not a pass and not yet a failure: the stage holds on, judged as it goes, until
// enough came or the stage limit (max_interval) is reached — then too few is no data.
func (c *Cluster) decide(ctx context.Context, judge *analysis.StageJudge, i int, start time.Time, tick clock.Ticker) (*diagnose.Signal, error) {
	t := c.tr
	sig := c.observe(ctx, judge, i, start, true)
	limit := c.cfg.StageLimit()
	if sig == nil || sig.Reason != "NoData" || c.s.Clock().Since(start) >= limit {
		return sig, nil
	}
	st := &t.report.Stages[i]
	st.Verdict, st.Metric, st.Value, st.Limit = "", "", "", ""
	c.waitEvent(ctx, "stage", limit-c.s.Clock().Since(start), "stage %d/%d: inconclusive after %s (%s): holding on, up to %s (max_interval)",
		i+1, len(t.stages), c.s.Clock().Since(start).Round(time.Second), sig.Message, limit)
	if sig, err := c.holdOn(ctx, judge, i, start, limit, tick); sig != nil || err != nil {
		return sig, err
	}
	if sig := c.observe(ctx, judge, i, start, true); sig != nil {
		if sig.Reason == "NoData" {
			sig.Message += fmt.Sprintf(" (held %s, the stage's limit: max_interval %s)", c.s.Clock().Since(start).Round(time.Second), limit)
		}
		return sig, nil
	}
	return nil, nil
}

// observe reads both tracks' metrics over the stage so far and judges the canary against its
// limits and the stable track; final judges the whole window. It returns the failure's signal,
// if any.
func (c *Cluster) observe(ctx context.Context, judge *analysis.StageJudge, i int, start time.Time, final bool) *diagnose.Signal {
	t := c.tr
	st := &t.report.Stages[i]
	window := time.Duration(math.Ceil(c.s.Clock().Since(start).Seconds())) * time.Second
	track := func(name string, names []string) analysis.Track {
		return analysis.Track{Namespace: c.ns(), Release: c.cfg.Release, Name: name, Pods: c.podPattern(ctx, names), Window: window, Start: start}
	}
	where := fmt.Sprintf("stage %d/%d (%d%%)", i+1, len(t.stages), st.Requested)
	canary, err := t.metrics.Observe(ctx, track("canary", t.canaryNames()))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		st.Verdict, st.Metric, st.Value = "fail", "prometheus", "unreadable"
		return &diagnose.Signal{Category: diagnose.Analysis, Object: "Deployment/" + t.canaryNames()[0], Reason: "PrometheusError",
			Message: fmt.Sprintf("the canary's metrics could not be read at %s: %v", where, err)}
	}
	stable, label := c.stable(ctx, track("stable", t.names), i)
	j := judge.Observe(canary, stable)
	if final {
		j = judge.End()
	}
	c.record(st, j, canary, stable, label, c.s.Clock().Since(start))
	switch {
	case j.Verdict == analysis.Fail || (final && j.Verdict == analysis.NoData):
		st.Verdict, st.Metric, st.Value, st.Limit = string(j.Verdict), j.Metric, j.Value, j.Limit
		return c.failure(j, st, where, final, c.s.Clock().Since(start))
	case final && j.Both:
		st.Verdict, st.Metric = outcome.VerdictBoth, "error rate"
		st.Value = fmt.Sprintf("canary %s, stable %s", describeErrors(canary), describeErrors(stable))
		st.Limit = j.Limit
	case final:
		st.Verdict = "pass"
	}
	return nil
}

// stable observes the stable track over the stage so far. Where it serves nothing, or too
// little to judge by (the last stage, at 100%: only what the stable pods served before they
// went), the baseline is its last observation with min_requests, from an earlier stage; label
// says which ("" this stage's; "-" none could be read).
func (c *Cluster) stable(ctx context.Context, tr analysis.Track, i int) (analysis.Observation, string) {
	t := c.tr
	o, err := t.metrics.Observe(ctx, tr)
	enough := err == nil && o.RequestsKnown && o.Requests > 0 && o.Requests >= t.limits.MinRequests
	switch {
	case enough:
		t.baseline, t.baselineStage = &o, i
		return o, ""
	case t.baseline != nil && t.baselineStage != i: // this stage's own is too thin to stand in
		return *t.baseline, fmt.Sprintf("stage %d", t.baselineStage+1)
	case err != nil:
		return analysis.Observation{Ratio: math.NaN(), P99: analysis.Sample{NoData: true}}, "-"
	}
	return o, ""
}

// record puts what the stage has seen so far into its report: both tracks' figures (the
// stable's from an earlier stage when label names one) and the tests' evidence.
func (c *Cluster) record(st *outcome.StageReport, j analysis.Judgement, canary, stable analysis.Observation, label string, held time.Duration) {
	st.CanaryErrors, st.CanaryP99 = describeErrors(canary), describeP99(canary, c.tr.metrics.Latency())
	st.ErrorRate = -1
	if canary.Ratio == canary.Ratio {
		st.ErrorRate = 100 * canary.Ratio
	}
	switch label {
	case "":
		st.StableErrors, st.StableP99 = describeErrors(stable), describeP99(stable, c.tr.metrics.Latency())
	case "-":
	default:
		st.StableErrors = describeErrors(stable) + " (" + label + ")"
	}
	if s, ok := j.Strongest(); ok {
		st.Test, st.Evidence, st.Bound, st.Decided = s.Name, s.E, s.Bound, held
	}
}

// failure is the signal of a failed (or no-data) stage, naming what decided it and the stable
// track's figure beside it.
func (c *Cluster) failure(j analysis.Judgement, st *outcome.StageReport, where string, final bool, held time.Duration) *diagnose.Signal {
	reason := "ErrorRate"
	switch {
	case j.Verdict == analysis.NoData:
		reason = "NoData"
	case j.Metric == analysis.TestP99 || j.Metric == analysis.TestLatencyStable:
		reason = "Latency"
	}
	msg := j.Sentence() + " at " + where
	if j.Verdict == analysis.NoData {
		msg += ", and no data is not a pass"
	}
	base := st.StableErrors
	if j.Metric == analysis.TestP99 {
		base = st.StableP99
	}
	if j.Metric != analysis.TestErrorsStable && j.Metric != analysis.TestLatencyStable {
		msg += "; stable track: " + words.OrDefault(base, "no data")
	}
	if s, ok := j.Strongest(); ok && j.Verdict == analysis.Fail && j.Metric != analysis.TestP99 {
		msg += fmt.Sprintf(" (evidence %s against a bound of %s, alpha %g)", analysis.FormatE(s.E), analysis.FormatE(s.Bound), c.cfg.Judge.Alpha)
	}
	if !final {
		msg += fmt.Sprintf(" (decided after %s of %s)", held.Round(time.Second), c.cfg.Interval)
	}
	return &diagnose.Signal{Category: diagnose.Analysis, Object: "Deployment/" + c.tr.canaryNames()[0], Reason: reason, Message: msg}
}

func describeErrors(o analysis.Observation) string {
	if o.Ratio != o.Ratio {
		return "no data"
	}
	if !o.RequestsKnown {
		return fmt.Sprintf("%.2f%%", 100*o.Ratio)
	}
	return fmt.Sprintf("%.2f%% (%.0f/%.0f)", 100*o.Ratio, o.Errors, o.Requests)
}

func describeP99(o analysis.Observation, read bool) string {
	switch {
	case !read:
		return ""
	case o.P99.NoData:
		return "no data"
	}
	return analysis.FormatSeconds(o.P99.Value)
}

// podPattern is the pods placeholder for Deployments names: their pods selected by what they
// carry (the ReplicaSets that own them, by owner reference), not by a guess at their names.
// The ReplicaSets are read once per track: a canary's templates do not change while it runs.
func (c *Cluster) podPattern(ctx context.Context, names []string) string {
	t := c.tr
	key := strings.Join(names, ",")
	if p, ok := t.pods[key]; ok {
		return p
	}
	var sets []string
	for _, name := range names {
		rs, err := c.replicaSetsOf(ctx, name)
		if err != nil {
			return PodPattern(sets) // not cached: the next read tries again
		}
		sets = append(sets, rs...)
	}
	if t.pods == nil {
		t.pods = map[string]string{}
	}
	t.pods[key] = PodPattern(sets)
	return t.pods[key]
}

// replicaSetsOf names the ReplicaSets Deployment name owns.
func (c *Cluster) replicaSetsOf(ctx context.Context, name string) ([]string, error) {
	d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	list, err := c.typed().AppsV1().ReplicaSets(c.ns()).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rs := range list.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == d.UID {
			out = append(out, rs.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}
