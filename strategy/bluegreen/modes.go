package bluegreen

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// The blue-green modes and checks around the strategy: which colour serves, the strategy
// change guard, promote, abort, the rollback that is a switch, and finishing what an
// interrupted run left.

// liveColor is the colour the release's Services select now ("" before the first switch);
// for a chart without Services, the colour the lock last recorded as live.
func (c *Cluster) liveColor(ctx context.Context, l Layout) (strategy.Color, error) {
	if !l.IsBlueGreen() {
		return "", nil
	}
	seen := map[strategy.Color][]string{}
	for _, name := range l.Services {
		svc, err := c.typed().CoreV1().Services(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading Service %s: %w", name, kube.Explain(err))
		}
		if c := strategy.Color(svc.Spec.Selector[ColorLabel]); c == Blue || c == Green {
			seen[c] = append(seen[c], name)
		}
	}
	switch len(seen) {
	case 1:
		for c := range seen {
			return c, nil
		}
	case 2:
		return "", fmt.Errorf("the release's Services disagree on the live colour (blue: %s; green: %s), as a switch cut short leaves them; run mode rollback to put them all on one colour",
			strings.Join(seen[Blue], ", "), strings.Join(seen[Green], ", "))
	}
	if len(l.Services) > 0 {
		return "", nil // selecting nothing yet: a first install before its switch
	}
	notes := map[string]string{}
	if c.locked {
		notes = c.prev.Notes
	} else if st, err := kube.Peek(ctx, c.typed(), c.ns(), c.cfg.Release); err == nil && st != nil {
		notes = st.Notes
	}
	return strategy.Color(notes[NoteActive]), nil
}

// PlanDeploy checks, before any write, that a blue-green deploy can run on this release, and
// says which colour serves and which is next. last is the release's latest manifest.
func PlanDeploy(ctx context.Context, e Env, last string, exists bool) (*Plan, error) {
	c := NewCluster(e, nil)
	l, err := ReadLayout(last)
	if err != nil {
		return nil, err
	}
	if exists && len(l.Plain) > 0 && !l.IsBlueGreen() {
		return nil, fmt.Errorf("%s: release %s was deployed with strategy rolling (Deployment %s has no %s label); blue-green would replace it by %s-blue and re-point its Services in one step, which cannot be done without downtime. To migrate: install the chart under a new release name with strategy blue-green, move your ingress or DNS to that release's Services, then uninstall %s (or keep strategy rolling)",
			config.InStrategy, c.cfg.Release, l.Plain[0], ColorLabel, l.Plain[0], c.cfg.Release)
	}
	active, err := c.liveColor(ctx, l)
	if err != nil {
		return nil, err
	}
	kept := append(append([]string(nil), l.Colored[active]...), l.Config[active]...) // its pods' config too
	p := &Plan{layout: l, active: active, next: Next(active), kept: kept, live: map[string]int{}}
	if active != "" && len(l.Colored[active]) == 0 {
		return nil, fmt.Errorf("the live colour %s has no Deployment in the release's latest revision: it cannot be kept while %s is deployed", active, p.next)
	}
	for _, name := range l.Deployments[active] {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read the live colour's %s: %w", name, kube.Explain(err))
		}
		if d.Spec.Replicas != nil {
			p.live[strings.TrimSuffix(name, "-"+string(active))] = int(*d.Spec.Replicas)
		}
	}
	if exists && c.cfg.GatewayAPI() {
		spec, err := c.routes().Check(ctx, c.cfg.HTTPRoute)
		if err != nil {
			return nil, err
		}
		p.route, p.sends = c.cfg.HTTPRoute, route.Sends(spec)
	}
	return p, nil
}

// Check refuses, before any write, a chart blue-green cannot run: one without a
// Deployment, or with StatefulSets or DaemonSets (two of those cannot run side by side).
func (p *Plan) Check(manifest string) error {
	next := p.next
	l, err := ReadLayout(manifest)
	if err != nil {
		return err
	}
	if len(l.Uncolorable) > 0 {
		return fmt.Errorf("%s: blue-green runs two Deployments side by side; the chart also renders %s, which would be upgraded in place, live, before any check; use strategy rolling for this chart",
			config.InStrategy, strings.Join(l.Uncolorable, ", "))
	}
	if len(l.Deployments[next]) == 0 {
		return fmt.Errorf("%s: the chart renders no Deployment: blue-green has nothing to run as %s", config.InStrategy, next)
	}
	return nil
}

// Modes is blue-green's side of the engine's modes: promote and abort of a colour awaiting
// promotion, the rollback that is a switch (also without the lock, in a grace period), and
// finishing what an interrupted blue-green run left, each from the notes the Lease holds.
type Modes struct {
	Env
	// Undo is the context an undo runs on: its own, so that a cancelled run still undoes.
	Undo func(context.Context) (context.Context, context.CancelFunc)
	// AbortAwaiting is mode abort, as the engine runs it (a rollback of a deploy awaiting
	// promotion is its abort).
	AbortAwaiting func(context.Context)
	// undone is the colour an interrupted run's work was taken back to, by this run.
	undone string
}

// Recorded reports whether the Lease's notes record blue-green work.
func Recorded(notes map[string]string) bool {
	return notes[kube.AnnotationStrategy] == string(config.StrategyBlueGreen)
}

// Owns reports whether a release's manifest is blue-green's (its Deployments carry colours).
func Owns(manifest string) bool {
	l, err := ReadLayout(manifest)
	return err == nil && l.IsBlueGreen()
}

// Undone is the colour an interrupted run's work was taken back to by this run ("": none).
func (m *Modes) Undone() string { return m.undone }

// base is the run's cluster for blue-green work outside a deploy.
func (m *Modes) base() *Cluster {
	c := NewCluster(m.Env, nil)
	c.undone = &m.undone
	return c
}

// colorCluster is the run's cluster for blue-green work on revision rev's colour col outside
// a deploy (promote, abort, rollback, recovery).
func (m *Modes) colorCluster(manifest string, rev int, col strategy.Color) (*Cluster, error) {
	l, err := ReadLayout(manifest)
	if err != nil {
		return nil, err
	}
	c := m.base()
	c.layout, c.rev, c.deploying = l, rev, col
	return c, nil
}

// awaited is the colour that awaits promotion, and the colour live beside it, as the Lease
// recorded them.
func (m *Modes) awaited() (color, from strategy.Color) {
	return strategy.Color(m.Previous.Notes[NoteColor]), strategy.Color(m.Previous.Notes[NoteFromColor])
}

// Promote is mode promote of revision rev, awaiting promotion: its colour is checked again
// (ready, smoke tests), takes the traffic, and is watched for the grace period, as a deploy
// with auto_promote would have done.
func (m *Modes) Promote(ctx context.Context, rev int, hist []*helmrelease.Release) {
	col, from := m.awaited()
	out := m.Session.Outcome()
	out.Revision, out.PreviousRevision, out.HistoryRead, out.ActiveColor = rev, rev, true, string(from)
	c, err := m.colorCluster(hist[len(hist)-1].Manifest, rev, col)
	if err != nil {
		m.base().fail(ctx, "promote", "", "%v", err)
		return
	}
	c.event(ctx, "promote", outcome.Info, "promoting revision %d on %s (live: %s)", rev, col, words.OrDefault(string(from), "none yet"))
	f := &strategy.Failure{Revision: rev, Since: c.s.Clock().Now(), Color: col, From: from}
	res, werr := c.s.Watch(ctx, release.Workloads{Deployments: c.layout.Deployments[col]}, time.Time{})
	bg := Strategy{AutoPromote: true, Grace: c.cfg.GracePeriod}
	switch {
	case werr != nil && ctx.Err() != nil:
		f.Why = "the run was cancelled before the switch"
	case !res.Ready:
		f.Result = &res
	default:
		if sig := c.Smoke(ctx, col); sig != nil {
			res.Ready, res.Signals = false, append(res.Signals, *sig)
			f.Result = &res
		} else {
			f = bg.Promote(ctx, c, rev, col, from)
		}
	}
	if f == nil {
		out.Status = outcome.Succeeded
		out.Message = fmt.Sprintf("%s is on revision %d, live on %s, promoted", c.cfg.Release, rev, col)
		c.event(ctx, "done", outcome.Info, "%s", out.Message)
		return
	}
	uctx, cancel := m.Undo(ctx)
	defer cancel()
	bg.Undo(uctx, c, f)
}

// Abort is mode abort of revision rev, awaiting promotion: its colour goes to zero and the
// revision is marked failed. Live traffic never moved.
func (m *Modes) Abort(ctx context.Context, rev int, hist []*helmrelease.Release) {
	col, from := m.awaited()
	out := m.Session.Outcome()
	out.PreviousRevision, out.HistoryRead, out.ActiveColor = rev, true, string(from)
	c, err := m.colorCluster(hist[len(hist)-1].Manifest, rev, col)
	if err != nil {
		m.base().fail(ctx, "abort", "", "%v", err)
		return
	}
	if err := c.state(ctx, kube.PhaseRollingBack, rev, c.colorNotes(col, from)); err != nil {
		c.fail(ctx, "abort", "", "%v; nothing was changed", err)
		return
	}
	if err := c.ScaleDown(ctx, col); err != nil {
		c.s.Unfinished()
		c.fail(ctx, "abort", "", "aborting revision %d did not finish: %v; the next Shepherd run of %s finishes it", rev, err, c.cfg.Release)
		return
	}
	why := words.OrDefault(c.cfg.Reason, "no reason given")
	if err := c.s.Mark(rev, helmrelease.StatusFailed, words.Truncate("Shepherd: aborted before promotion: "+why, 200)); err != nil {
		c.event(ctx, "abort", outcome.Warn, "could not mark revision %d failed: %v", rev, err)
	}
	c.restoreDeployed(from)
	out.Status, out.Reason = outcome.Aborted, c.cfg.Reason
	out.Message = fmt.Sprintf("revision %d on %s was aborted before promotion (%s); live traffic stays on %s", rev, col, why, words.OrDefault(string(from), "nothing (first install)"))
	c.event(ctx, "done", outcome.Info, "%s", out.Message)
}

// revisionOf is the newest revision that deployed colour col (0: none); with good, only one
// that did not fail (a colour whose last deploy failed has nothing good to switch back to).
func revisionOf(hist []*helmrelease.Release, col strategy.Color, good bool) int {
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.Labels[ColorLabel] != string(col) {
			continue
		}
		if good && h.Info != nil && h.Info.Status == helmrelease.StatusFailed {
			return 0
		}
		return h.Version
	}
	return 0
}

// ErrOtherStrategy refuses another strategy than blue-green on a blue-green release.
func ErrOtherStrategy(cfg config.Config) error {
	return fmt.Errorf("%s: release %s runs blue-green (its Deployments carry %s and its Services switch between colours); a %s upgrade would replace both colours and re-point the Services in one step, without checks and not without downtime. Keep strategy blue-green, or to migrate: install the chart under a new release name with strategy %s, move your ingress or DNS to it, then uninstall %s",
		config.InStrategy, cfg.Release, ColorLabel, cfg.Strategy, cfg.Strategy, cfg.Release)
}
