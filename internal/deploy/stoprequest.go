package deploy

import (
	"context"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

// A rollback interrupts a canary in flight: mode rollback notes its request on the release's
// Lease; the run holding the canary polls for it every second, stops at once and aborts its
// canary (the stable track back and Ready, then the canary to zero), naming who stopped it and
// why; the rollback, which waits for the lock meanwhile, then reports that work as its own.
// One writer at a time: the two runs never scale the same Deployments at once.

// stopPoll is how often a holder looks for a stop request.
const stopPoll = time.Second

// askCanaryToStop is mode rollback's first step: when a live run holds the release with a
// canary in its stages, it asks that run to abort now instead of waiting for its stages to end.
func (r *run) askCanaryToStop(ctx context.Context) {
	cfg, cs := r.cfg, r.d.Clients.Typed
	st, err := kube.Peek(ctx, cs, cfg.Namespace, cfg.Release)
	if err != nil || st == nil || !st.Live || !canary.Recorded(st.Notes) || st.Phase != kube.PhaseDeploying || canary.Promoting(st.Notes) {
		return
	}
	reason := words.OrDefault(cfg.Reason, "no reason given")
	by := words.OrDefault(cfg.Owner, "shepherd")
	if err := kube.Annotate(ctx, cs, cfg.Namespace, cfg.Release, map[string]string{kube.AnnotationStopBy: by, kube.AnnotationStopReason: words.Truncate(reason, 500)}); err != nil {
		r.event(ctx, "rollback", Warn, "could not ask the run holding %s to stop its canary (%v): waiting for the lock", cfg.Release, err)
		return
	}
	r.stopAsked = by
	r.event(ctx, "rollback", Info, "%s holds %s with a canary in flight (stage %s): asked it to abort the canary now (%s); it notices within %s",
		st.Holder, cfg.Release, canary.StageOf(st.Notes), reason, stopPoll)
}

// watchStop cancels the run's work (cause strategy.StopRequested) when a rollback asks it to stop.
func (r *run) watchStop(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) {
	t := time.NewTicker(stopPoll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := kube.Peek(ctx, r.d.Clients.Typed, r.cfg.Namespace, r.cfg.Release)
		if err == nil && st != nil && st.Notes[kube.AnnotationStopBy] != "" {
			cancel(&strategy.StopRequested{By: st.Notes[kube.AnnotationStopBy], Reason: words.OrDefault(st.Notes[kube.AnnotationStopReason], "no reason given")})
			return
		}
	}
}

// stoppedCanary reports, for a rollback that asked the lock's previous holder to stop, the
// canary revision that run aborted (0: it did not; the rollback goes on as usual).
func (r *run) stoppedCanary(hist []*helmrelease.Release) int {
	if r.stopAsked == "" || r.lock.Previous.Notes[kube.AnnotationStopBy] != r.stopAsked || len(hist) == 0 {
		return 0
	}
	last := hist[len(hist)-1]
	if !canary.IsRevision(last) || last.Info == nil || last.Info.Status != helmrelease.StatusFailed {
		return 0
	}
	return last.Version
}

// stopsOnRequest: the modes whose work a rollback may interrupt.
func stopsOnRequest(m config.Mode) bool {
	return m == config.ModeDeploy || m == config.ModePromote
}
