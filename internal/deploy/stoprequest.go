package deploy

import (
	"context"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// A rollback interrupts a canary in flight: mode rollback notes its request on the release's
// Lease, naming the holder it read and only while that holder still holds it
// (kube.RequestStop); the run holding the canary polls for a request naming it every second,
// stops at once and aborts its canary (the stable track back and Ready, then the canary to
// zero), naming who stopped it and why; the rollback, which waits for the lock meanwhile, then
// reports that work as its own.
// One writer at a time: the two runs never scale the same Deployments at once.

// stopPoll is how often a holder looks for a stop request.
const stopPoll = time.Second

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
		if err != nil || st == nil {
			continue
		}
		// only a request naming this run: one written for the lock's previous holder is not
		if by, reason, ok := st.StopRequest(r.lock.Holder()); ok {
			cancel(&strategy.StopRequested{By: by, Reason: words.OrDefault(reason, "no reason given")})
			return
		}
	}
}

// stopsOnRequest: the modes whose work a rollback may interrupt.
func stopsOnRequest(m config.Mode) bool {
	return m == config.ModeDeploy || m == config.ModePromote
}
