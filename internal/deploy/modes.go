package deploy

import (
	"context"
	"fmt"
	"strconv"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
)

// awaited is the revision the previous run left waiting for promotion, checked to be still
// the release's latest, and the release's history.
func (r *run) awaited() (int, []*helmrelease.Release, error) {
	prev := r.lock.Previous
	rev, _ := strconv.Atoi(prev.Revision)
	if prev.Phase != kube.PhaseAwaitingPromotion || rev == 0 {
		return 0, nil, fmt.Errorf("%s: nothing of release %s awaits promotion (its last run ended in phase %q); only a deploy with auto_promote: false stops before its switch",
			config.InMode, r.cfg.Release, words.OrDefault(string(prev.Phase), "none"))
	}
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil {
		return 0, nil, err
	}
	if len(hist) == 0 || hist[len(hist)-1].Version != rev {
		return 0, nil, fmt.Errorf("revision %d awaited promotion, but release %s has moved on since (latest: revision %s)", rev, r.cfg.Release, versions(hist[max(len(hist)-1, 0):]))
	}
	return rev, hist, nil
}

// promote is mode promote: the strategy that stopped before its switch finishes it, as a
// deploy with auto_promote would have.
func (r *run) promote(ctx context.Context) {
	rev, hist, err := r.awaited()
	if err != nil {
		r.fail(ctx, "promote", "", "%v (nothing was changed)", err)
		return
	}
	l, err := r.awaitedBy("promote")
	if err != nil {
		r.fail(ctx, "promote", "", "%v (nothing was changed)", err)
		return
	}
	l.promote(ctx, rev, hist)
}

// awaitedBy is the strategy whose run left the release awaiting promotion.
func (r *run) awaitedBy(mode string) (lifecycle, error) {
	if l := r.recordedBy(r.lock.Previous.Notes); l != nil {
		return l, nil
	}
	return nil, fmt.Errorf("%s: the Lease of release %s names no strategy that stops before its switch (%q), so there is nothing to %s",
		config.InMode, r.cfg.Release, r.lock.Previous.Notes[kube.AnnotationStrategy], mode)
}

// abort is mode abort: what awaits promotion is dropped and its revision marked failed; live
// traffic stays where it is.
func (r *run) abort(ctx context.Context) {
	rev, hist, err := r.awaited()
	if err != nil {
		r.fail(ctx, "abort", "", "%v (nothing was changed)", err)
		return
	}
	l, err := r.awaitedBy("abort")
	if err != nil {
		r.fail(ctx, "abort", "", "%v (nothing was changed)", err)
		return
	}
	l.abort(ctx, rev, hist)
}

// rollbackBeforeLock gives each strategy its say in mode rollback before the lock is taken:
// true when one rolled back itself (blue-green in its grace period switches back at once).
func (r *run) rollbackBeforeLock(ctx context.Context) bool {
	for _, l := range r.lifecycles() {
		if l.beforeLock(ctx) {
			return true
		}
	}
	return false
}
