package deploy

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// crashed turns a panic (a bug) into a failed outcome the user sees like any other: the
// outputs, the summary and an ::error, the GitHub deployment ended by the edge. The run's
// work is left unfinished on purpose: the release lock keeps the phase last recorded, so the
// next run finishes or undoes it, checking before it acts. Secrets are redacted from what the
// panic said; the stack goes to the debug log only.
func (r *run) crashed(ctx context.Context, p any) {
	secrets := r.cfg.SecretValues()
	what := diagnose.Redact(fmt.Sprint(p), secrets)
	r.d.Log.Debug("panic", "value", what, "stack", diagnose.Redact(string(debug.Stack()), secrets))
	r.unfinished = true
	msg := fmt.Sprintf("Shepherd stopped on an internal error, a bug (%s)", what)
	if r.lock != nil {
		msg += fmt.Sprintf("; the release lock keeps phase %s, so the next Shepherd run of %s finishes or undoes this run's work", r.lock.Recorded(), r.cfg.Release)
	}
	msg += "; please report it with this run's log (RUNNER_DEBUG=1 adds the stack)"
	r.out.Status = Failed
	r.out.Message = strings.TrimSpace(msg)
	func() {
		defer func() { _ = recover() }() // the reporter itself may be what failed
		r.event(ctx, "crash", Error, "%s", r.out.Message)
	}()
}
