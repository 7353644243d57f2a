package bluegreen

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// annotationReplicas, on a Deployment scaled to zero, is the replica count it had: a switch back
// scales it up to that.
const annotationReplicas = kube.Prefix + "replicas"

// Plan is what pre-flight knows of a blue-green deploy before it writes: the release's
// layout as its latest revision applied it, the live colour, the colour to deploy, and the live
// colour's Deployments as applied (kept by the post-renderer, so Helm leaves them alone).
type Plan struct {
	layout       Layout
	active, next strategy.Color
	kept         []string
	// live is what the serving colour runs now, by the chart's Deployment name: the new colour
	// starts there where an HPA scales it or the chart leaves replicas out.
	live map[string]int
	// route is the HTTPRoute that previews the new colour ("": none), sends the Services its
	// owner's rules send to, routed the chart's among them (read from the render).
	route         string
	sends, routed []string
}

func (p *Plan) PostRender(rendered string) (string, error) {
	if p.route != "" {
		var err error
		if p.routed, err = route.SentServices(rendered, p.route, p.sends); err != nil {
			return "", err
		}
	}
	return Colorize(rendered, p.next, p.active, p.kept, p.live)
}

var _ Colors = (*Cluster)(nil)

// Active is the live colour pre-flight read.
func (c *Cluster) Active(context.Context) (strategy.Color, error) { return c.plan.active, nil }

// UpgradeColor is a Helm upgrade whose post-renderer makes the chart colour next (see
// Colorize); the revision is labelled with its colour.
func (c *Cluster) UpgradeColor(ctx context.Context, next, active strategy.Color) (strategy.Revision, error) {
	cfg := c.cfg
	desc := fmt.Sprintf("Shepherd blue-green: %s as %s (live: %s)", words.OrDefault(cfg.ImageTag, "chart defaults"), next, words.OrDefault(string(active), "none yet"))
	rel, rev, err := c.s.Apply(ctx, strategy.Apply{
		Description: desc, PostRender: c.plan.PostRender, Labels: map[string]string{ColorLabel: string(next)}})
	if err != nil {
		return rev, err
	}
	c.rev, c.deploying = rel.Version, next
	if err := c.state(ctx, kube.PhaseDeploying, rel.Version, c.colorNotes(next, active)); err != nil {
		return strategy.Revision{Number: rel.Version}, err
	}
	c.event(ctx, "upgrade", outcome.Info, "revision %d applied: %s, taking no traffic (live: %s; previous revision: %s)",
		rel.Version, next, words.OrDefault(string(active), "none yet"), words.RevName(c.out().PreviousRevision))
	l, err := ReadLayout(rel.Manifest)
	if err != nil {
		return strategy.Revision{Number: rel.Version}, fmt.Errorf("cannot read the release manifest: %w", err)
	}
	c.layout = l
	if err := c.notEmpty(ctx, next); err != nil {
		return strategy.Revision{Number: rel.Version}, err
	}
	return strategy.Revision{Number: rel.Version, Workloads: release.Workloads{Deployments: l.Deployments[next]}}, nil
}

// notEmpty refuses a colour whose Deployments want no pod: 0/0 is a failure to deploy, never
// a rollout complete that traffic could be switched to.
func (c *Cluster) notEmpty(ctx context.Context, col strategy.Color) error {
	for _, name := range c.layout.Deployments[col] {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read %s: %w", name, kube.Explain(err))
		}
		if d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
			return fmt.Errorf("%s wants 0 replicas: a colour with no pod cannot take traffic (0/0 is not a rollout complete)", name)
		}
	}
	return nil
}

// colorNotes are the Lease notes of blue-green work on colour (the revision's) replacing from.
func (c *Cluster) colorNotes(color, from strategy.Color) map[string]string {
	return map[string]string{kube.AnnotationStrategy: string(config.StrategyBlueGreen), NoteColor: string(color),
		NoteFromColor: string(from), NoteSwitchedBy: "", strategy.NoteRoute: c.releaseRoute()}
}

// Smoke runs the smoke tests on colour col.
func (c *Cluster) Smoke(ctx context.Context, col strategy.Color) *diagnose.Signal {
	via, sig := c.previewRoute(ctx, col)
	if sig != nil {
		return sig
	}
	return c.s.Smoke(ctx, c.layout.Deployments[col], via)
}

// Switch points every Service of the release at colour to. A switch forward (rev > 0) records
// phase switched first; a switch back records rolling-back: either way a run that dies midway
// leaves the next one what it needs to finish.
func (c *Cluster) Switch(ctx context.Context, to, from strategy.Color, rev int) error {
	var err error
	if rev > 0 {
		err = c.state(ctx, kube.PhaseSwitched, rev, c.colorNotes(to, from))
	} else if c.rev > 0 {
		err = c.state(ctx, kube.PhaseRollingBack, c.rev, c.colorNotes(from, to))
	}
	if err != nil {
		return err
	}
	start := c.s.Clock().Now()
	if err := c.switchServices(ctx, c.layout, to); err != nil {
		return err
	}
	c.unpreview(ctx) // the preview rule's colour is live now, or going away
	c.out().ActiveColor = string(to)
	warm := ""
	if from != "" && rev > 0 {
		warm = fmt.Sprintf("; %s stays warm for an instant switch back", from)
	}
	c.event(ctx, "switch", outcome.Info, "Services %s now select %s (%.0f ms)%s", strings.Join(c.layout.Services, ", "), to,
		float64(c.s.Clock().Since(start).Microseconds())/1000, warm)
	return nil
}

// switchServices patches the Services' selectors to colour to, then points the chart's HPAs
// at colour to's Deployments: the colour that serves is the one that scales with its load.
func (c *Cluster) switchServices(ctx context.Context, l Layout, to strategy.Color) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"selector":{%q:%q}}}`, ColorLabel, to))
	for _, name := range l.Services {
		if _, err := c.typed().CoreV1().Services(c.ns()).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("switch Service %s to %s: %w", name, to, kube.Explain(err))
		}
	}
	for hpa, base := range l.HPAs {
		target := base + "-" + string(to)
		p := []byte(fmt.Sprintf(`{"spec":{"scaleTargetRef":{"name":%q}}}`, target))
		if _, err := c.typed().AutoscalingV2().HorizontalPodAutoscalers(c.ns()).Patch(ctx, hpa, types.MergePatchType, p, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("point HorizontalPodAutoscaler %s at %s: %w", hpa, target, kube.Explain(err))
		}
	}
	return nil
}

// errSwitchedAway ends a watch of a live colour that another run took the traffic from.
type errSwitchedAway struct{ by string }

func (e *errSwitchedAway) Error() string { return "traffic was switched away by " + e.by }

// Steady watches colour col's pods for d (none may restart or go unready) while checking every
// second that the Services still select col: a rollback switches back without waiting for this
// run's lock, and this run must notice within seconds.
func (c *Cluster) Steady(ctx context.Context, col strategy.Color, d time.Duration) (*diagnose.Signal, string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := c.s.Clock().NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
			}
			if to := c.servedColor(ctx); to != "" && to != col {
				by := "another run"
				if st, err := kube.Peek(ctx, c.typed(), c.ns(), c.cfg.Release); err == nil && st != nil && st.Notes[NoteSwitchedBy] != "" {
					by = st.Notes[NoteSwitchedBy]
				}
				cancel(&errSwitchedAway{by: by})
				return
			}
		}
	}()
	if d > 0 {
		c.waitEvent(ctx, "grace", d, "watching %s, live, for %s", col, d)
	}
	sig, err := c.s.Steady(ctx, c.layout.Deployments[col], d)
	var away *errSwitchedAway
	if errors.As(context.Cause(ctx), &away) {
		return nil, away.by, nil
	}
	return sig, "", err
}

// servedColor is the colour the release's Services select now ("" when unknown or mixed).
func (c *Cluster) servedColor(ctx context.Context) strategy.Color {
	col, err := c.liveColor(ctx, c.layout)
	if err != nil {
		return ""
	}
	return col
}

// ScaleDown takes colour col's Deployments to zero, remembering their replicas.
func (c *Cluster) ScaleDown(ctx context.Context, col strategy.Color) error {
	c.unpreview(ctx) // never a preview rule to a colour with no pod
	var done []string
	for _, name := range c.layout.Deployments[col] {
		deps := c.typed().AppsV1().Deployments(c.ns())
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("scale %s down: %w", name, kube.Explain(err))
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas == 0 {
			continue
		}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"%d"}},"spec":{"replicas":0}}`, annotationReplicas, *d.Spec.Replicas)
		if _, err := deps.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("scale %s down: %w", name, kube.Explain(err))
		}
		done = append(done, fmt.Sprintf("%s (was %d)", name, *d.Spec.Replicas))
	}
	if len(done) > 0 {
		c.event(ctx, "scale-down", outcome.Info, "%s scaled to 0: %s; kept for a quick switch back", col, strings.Join(done, ", "))
	}
	return nil
}

// ScaleUp brings colour col back to the replicas it had before it was scaled down, and watches
// it until it is ready (fail fast).
func (c *Cluster) ScaleUp(ctx context.Context, col strategy.Color) (health.Result, error) {
	since := c.s.Clock().Now()
	names := c.layout.Deployments[col]
	var scaled []string
	for _, name := range names {
		deps := c.typed().AppsV1().Deployments(c.ns())
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return health.Result{}, fmt.Errorf("scale %s up: %w", name, kube.Explain(err))
		}
		if d.Spec.Replicas != nil && *d.Spec.Replicas > 0 {
			continue
		}
		want, _ := strconv.Atoi(d.Annotations[annotationReplicas])
		want = max(want, 1)
		if _, err := deps.Patch(ctx, name, types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, want)), metav1.PatchOptions{}); err != nil {
			return health.Result{}, fmt.Errorf("scale %s up: %w", name, kube.Explain(err))
		}
		scaled = append(scaled, fmt.Sprintf("%s to %d", name, want))
	}
	if len(scaled) > 0 {
		c.event(ctx, "scale-up", outcome.Info, "%s was at 0: scaling %s", col, strings.Join(scaled, ", "))
	}
	return c.s.Watch(ctx, release.Workloads{Deployments: names}, since)
}

// Pause records the deploy as awaiting promotion: the lock keeps the phase for mode promote
// or abort.
func (c *Cluster) Pause(ctx context.Context, rev int, next, from strategy.Color) {
	c.state(ctx, kube.PhaseAwaitingPromotion, rev, c.colorNotes(next, from))
	c.out().Status, c.out().ActiveColor = outcome.AwaitingPromotion, string(from)
	previews := make([]string, len(c.layout.Services))
	for i, s := range c.layout.Services {
		previews[i] = s + PreviewSuffix
	}
	live := "live traffic stays on " + string(from)
	if from == "" {
		live = "nothing takes live traffic yet (first install)"
	}
	c.out().Message = fmt.Sprintf("revision %d is up on %s and passed its checks; %s; preview: %s. Run again with mode: promote to switch, or mode: abort to drop it",
		rev, next, live, words.OrDefault(strings.Join(previews, ", "), "no Service"))
	c.event(ctx, "gate", outcome.Info, "%s", c.out().Message)
}

// Diagnose records the evidence of f (the rollout's, the smoke test's or the grace period's).
func (c *Cluster) Diagnose(ctx context.Context, f *strategy.Failure) {
	check := "rollout"
	switch {
	case f.Switched:
		check = "grace period"
	case f.Result != nil && len(f.Result.Signals) > 0 && f.Result.Signals[0].Reason == strategy.SmokeReason:
		check = "smoke test"
	}
	f.Reason, f.Why = c.s.Diagnose(ctx, f.Result, check, f.Reason, f.Why)
	if f.By != "" { // the reason is the one the run that switched back gave
		f.Why = "no reason given"
		if st, err := kube.Peek(ctx, c.typed(), c.ns(), c.cfg.Release); err == nil && st != nil && st.Notes[NoteSwitchReason] != "" {
			f.Why = st.Notes[NoteSwitchReason]
		}
	}
}

// Settle records how the undo of f went, in the outcome and in Helm history.
func (c *Cluster) Settle(ctx context.Context, f *strategy.Failure, err error) {
	c.out().FailureReason = f.Reason
	what := fmt.Sprintf("revision %d (%s)", f.Revision, f.Color)
	why := words.OrDefault(f.Why, "no reason recorded")
	if err != nil {
		c.s.Unfinished()
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		c.fail(ctx, "rollback", f.Reason, "%s failed (%s) and undoing it did not finish: %v; the release lock keeps phase %s for revision %d, so the next Shepherd run of %s finishes it",
			what, why, kube.Explain(err), c.s.Recorded(), f.Revision, c.cfg.Release)
		return
	}
	desc := words.Truncate(fmt.Sprintf("Shepherd: failed: %s", why), 200)
	switch {
	case f.By != "":
		desc = words.Truncate(fmt.Sprintf("Shepherd: switched back to %s by %s: %s", f.From, f.By, why), 200)
	case f.Reason != "":
		desc = words.Truncate(fmt.Sprintf("Shepherd: failed: %s: %s", f.Reason, why), 200)
	}
	if merr := c.s.Mark(f.Revision, helmrelease.StatusFailed, desc); merr != nil {
		c.event(ctx, "rollback", outcome.Warn, "could not mark revision %d failed: %v", f.Revision, merr)
	}
	c.restoreDeployed(f.From)
	switch {
	case f.From == "" && f.Switched:
		c.out().ActiveColor = string(f.Color)
		c.fail(ctx, "rollback", f.Reason, "%s failed (%s) on the release's first install: there is no earlier colour to switch back to, so it keeps serving, marked failed", what, why)
	case f.From == "":
		c.fail(ctx, "rollback", f.Reason, "%s failed (%s) on the release's first install, before taking traffic; scaled to 0, marked failed", what, why)
	default:
		c.out().Status, c.out().ActiveColor = outcome.RolledBack, string(f.From)
		switch {
		case f.By != "":
			c.out().Message = fmt.Sprintf("%s was switched back to %s by %s during its grace period: %s; %s scaled to 0", what, f.From, f.By, why, f.Color)
		case f.Switched:
			c.out().Message = fmt.Sprintf("%s failed in its grace period (%s); traffic switched back to %s, %s scaled to 0", what, why, f.From, f.Color)
		default:
			c.out().Message = fmt.Sprintf("%s failed before taking any traffic (%s); live traffic stayed on %s, %s scaled to 0", what, why, f.From, f.Color)
		}
		c.event(ctx, "done", outcome.Error, "%s", c.out().Message)
	}
}

// restoreDeployed marks the revision that runs colour col deployed again, once traffic is back
// on it: Helm superseded it when the failed revision was applied, but it is what serves.
func (c *Cluster) restoreDeployed(col strategy.Color) {
	if col == "" {
		return
	}
	hist, err := c.s.History()
	if err != nil {
		return
	}
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.Labels[ColorLabel] != string(col) {
			continue
		}
		if h.Info != nil && h.Info.Status == helmrelease.StatusSuperseded {
			// Best effort: the history's status is a label for humans, not what serves.
			_ = c.s.Mark(h.Version, helmrelease.StatusDeployed, h.Info.Description)
		}
		return
	}
}
