package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// The blue-green modes and checks around the strategy: which colour serves, the strategy
// change guard, promote, abort, the rollback that is a switch, and finishing what an
// interrupted run left.

// liveColor is the colour the release's Services select now ("" before the first switch);
// for a chart without Services, the colour the lock last recorded as live.
func (r *run) liveColor(ctx context.Context, l strategy.Layout) (strategy.Color, error) {
	if !l.IsBlueGreen() {
		return "", nil
	}
	seen := map[strategy.Color][]string{}
	for _, name := range l.Services {
		svc, err := r.d.Clients.Typed.CoreV1().Services(r.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading Service %s: %w", name, kube.Explain(err))
		}
		if c := strategy.Color(svc.Spec.Selector[strategy.ColorLabel]); c == strategy.Blue || c == strategy.Green {
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
			strings.Join(seen[strategy.Blue], ", "), strings.Join(seen[strategy.Green], ", "))
	}
	if len(l.Services) > 0 {
		return "", nil // selecting nothing yet: a first install before its switch
	}
	notes := map[string]string{}
	if r.lock != nil {
		notes = r.lock.Previous.Notes
	} else if st, err := kube.Peek(ctx, r.d.Clients.Typed, r.cfg.Namespace, r.cfg.Release); err == nil && st != nil {
		notes = st.Notes
	}
	return strategy.Color(notes[strategy.NoteActive]), nil
}

// planColors checks, before any write, that a blue-green deploy can run on this release, and
// says which colour serves and which is next. last is the release's latest manifest.
func (r *run) planColors(ctx context.Context, last string, exists bool) (*colorPlan, error) {
	l, err := strategy.ReadLayout(last)
	if err != nil {
		return nil, err
	}
	if exists && len(l.Plain) > 0 && !l.IsBlueGreen() {
		return nil, fmt.Errorf("%s: release %s was deployed with strategy rolling (Deployment %s has no %s label); blue-green would replace it by %s-blue and re-point its Services in one step, which cannot be done without downtime. To migrate: install the chart under a new release name with strategy blue-green, move your ingress or DNS to that release's Services, then uninstall %s (or keep strategy rolling)",
			config.InStrategy, r.cfg.Release, l.Plain[0], strategy.ColorLabel, l.Plain[0], r.cfg.Release)
	}
	active, err := r.liveColor(ctx, l)
	if err != nil {
		return nil, err
	}
	kept := append(append([]string(nil), l.Colored[active]...), l.Config[active]...) // its pods' config too
	p := &colorPlan{layout: l, active: active, next: strategy.Next(active), kept: kept, live: map[string]int{}}
	if active != "" && len(l.Colored[active]) == 0 {
		return nil, fmt.Errorf("the live colour %s has no Deployment in the release's latest revision: it cannot be kept while %s is deployed", active, p.next)
	}
	for _, name := range l.Deployments[active] {
		d, err := r.d.Clients.Typed.AppsV1().Deployments(r.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read the live colour's %s: %w", name, kube.Explain(err))
		}
		if d.Spec.Replicas != nil {
			p.live[strings.TrimSuffix(name, "-"+string(active))] = int(*d.Spec.Replicas)
		}
	}
	if exists && r.cfg.GatewayAPI() {
		spec, err := r.httpRoutes().Check(ctx, r.cfg.HTTPRoute)
		if err != nil {
			return nil, err
		}
		p.route, p.sends = r.cfg.HTTPRoute, strategy.RouteSends(spec)
	}
	return p, nil
}

// checkRendered refuses, before any write, a chart blue-green cannot run: one without a
// Deployment, or with StatefulSets or DaemonSets (two of those cannot run side by side).
func checkRendered(manifest string, next strategy.Color) error {
	l, err := strategy.ReadLayout(manifest)
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

// awaiting is a deploy stopped before its switch, as the lock recorded it.
type awaiting struct {
	rev         int
	color, from strategy.Color
}

// awaited reads what the previous run left waiting for promotion, and checks it is still the
// release's latest revision.
func (r *run) awaited() (*awaiting, []*helmrelease.Release, error) {
	prev := r.lock.Previous
	rev, _ := strconv.Atoi(prev.Revision)
	if prev.Phase != kube.PhaseAwaitingPromotion || rev == 0 {
		return nil, nil, fmt.Errorf("%s: nothing of release %s awaits promotion (its last run ended in phase %q); only a deploy with auto_promote: false stops before its switch",
			config.InMode, r.cfg.Release, words.OrDefault(string(prev.Phase), "none"))
	}
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil {
		return nil, nil, err
	}
	if len(hist) == 0 || hist[len(hist)-1].Version != rev {
		return nil, nil, fmt.Errorf("revision %d awaited promotion, but release %s has moved on since (latest: revision %s)", rev, r.cfg.Release, versions(hist[max(len(hist)-1, 0):]))
	}
	return &awaiting{rev: rev, color: strategy.Color(prev.Notes[strategy.NoteColor]), from: strategy.Color(prev.Notes[strategy.NoteFromColor])}, hist, nil
}

// colorCluster is the run's cluster for blue-green work on revision rev's colour col outside
// a deploy (promote, abort, rollback, recovery).
func (r *run) colorCluster(manifest string, rev int, col strategy.Color) (*cluster, error) {
	l, err := strategy.ReadLayout(manifest)
	if err != nil {
		return nil, err
	}
	return &cluster{r: r, layout: l, rev: rev, deploying: col}, nil
}

// promote is mode promote: the colour that awaits promotion is checked again (ready, smoke
// tests), takes the traffic, and is watched for the grace period, as a deploy with
// auto_promote would have done.
func (r *run) promote(ctx context.Context) {
	w, hist, err := r.awaited()
	if err != nil {
		r.fail(ctx, "promote", "", "%v (nothing was changed)", err)
		return
	}
	if canary.Recorded(r.lock.Previous.Notes) {
		r.canaryModes().Promote(ctx, w.rev, hist) // its first write records a phase (r.wrote)
		return
	}
	r.out.Revision, r.out.PreviousRevision, r.out.HistoryRead, r.out.ActiveColor = w.rev, w.rev, true, string(w.from)
	c, err := r.colorCluster(hist[len(hist)-1].Manifest, w.rev, w.color)
	if err != nil {
		r.fail(ctx, "promote", "", "%v", err)
		return
	}
	r.event(ctx, "promote", Info, "promoting revision %d on %s (live: %s)", w.rev, w.color, words.OrDefault(string(w.from), "none yet"))
	r.wrote = true
	f := &strategy.Failure{Revision: w.rev, Since: r.d.Clock.Now(), Color: w.color, From: w.from}
	res, werr := c.Watch(ctx, release.Workloads{Deployments: c.layout.Deployments[w.color]}, time.Time{})
	bg := strategy.BlueGreen{AutoPromote: true, Grace: r.cfg.GracePeriod}
	switch {
	case werr != nil && ctx.Err() != nil:
		f.Why = "the run was cancelled before the switch"
	case !res.Ready:
		f.Result = &res
	default:
		if sig := c.Smoke(ctx, w.color); sig != nil {
			res.Ready, res.Signals = false, append(res.Signals, *sig)
			f.Result = &res
		} else {
			f = bg.Promote(ctx, c, w.rev, w.color, w.from)
		}
	}
	if f == nil {
		r.out.Status = Succeeded
		r.out.Message = fmt.Sprintf("%s is on revision %d, live on %s, promoted", r.cfg.Release, w.rev, w.color)
		r.event(ctx, "done", Info, "%s", r.out.Message)
		return
	}
	uctx, cancel := r.undoContext(ctx)
	defer cancel()
	bg.Undo(uctx, c, f)
}

// abort is mode abort: the colour that awaits promotion goes to zero and its revision is
// marked failed. Live traffic never moved.
func (r *run) abort(ctx context.Context) {
	w, hist, err := r.awaited()
	if err != nil {
		r.fail(ctx, "abort", "", "%v (nothing was changed)", err)
		return
	}
	if canary.Recorded(r.lock.Previous.Notes) {
		r.canaryModes().Abort(ctx, w.rev, hist)
		return
	}
	r.out.PreviousRevision, r.out.HistoryRead, r.out.ActiveColor = w.rev, true, string(w.from)
	c, err := r.colorCluster(hist[len(hist)-1].Manifest, w.rev, w.color)
	if err != nil {
		r.fail(ctx, "abort", "", "%v", err)
		return
	}
	if err := r.state(ctx, kube.PhaseRollingBack, w.rev, r.colorNotes(w.color, w.from)); err != nil {
		r.fail(ctx, "abort", "", "%v; nothing was changed", err)
		return
	}
	if err := c.ScaleDown(ctx, w.color); err != nil {
		r.unfinished = true
		r.fail(ctx, "abort", "", "aborting revision %d did not finish: %v; the next Shepherd run of %s finishes it", w.rev, err, r.cfg.Release)
		return
	}
	why := words.OrDefault(r.cfg.Reason, "no reason given")
	if err := r.d.Helm.MarkFailed(r.cfg.Release, w.rev, words.Truncate("Shepherd: aborted before promotion: "+why, 200)); err != nil {
		r.event(ctx, "abort", Warn, "could not mark revision %d failed: %v", w.rev, err)
	}
	r.restoreDeployed(w.from)
	r.out.Status, r.out.Reason = Aborted, r.cfg.Reason
	r.out.Message = fmt.Sprintf("revision %d on %s was aborted before promotion (%s); live traffic stays on %s", w.rev, w.color, why, words.OrDefault(string(w.from), "nothing (first install)"))
	r.event(ctx, "done", Info, "%s", r.out.Message)
}

// revisionOf is the newest revision that deployed colour col (0: none); with good, only one
// that did not fail (a colour whose last deploy failed has nothing good to switch back to).
func revisionOf(hist []*helmrelease.Release, col strategy.Color, good bool) int {
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.Labels[strategy.ColorLabel] != string(col) {
			continue
		}
		if good && h.Info != nil && h.Info.Status == helmrelease.StatusFailed {
			return 0
		}
		return h.Version
	}
	return 0
}
