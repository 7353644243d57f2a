package strategy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// Tell is what a strategy's cluster half says to the user through its session: a step's
// news, a wait, the run's failure, what it found or did about an earlier run's work.
type Tell struct{ S Session }

// Event is one line of the run's timeline.
func (t Tell) Event(ctx context.Context, phase string, lvl outcome.Level, format string, a ...any) {
	t.S.Emit(ctx, outcome.Event{Phase: phase, Level: lvl, Message: fmt.Sprintf(format, a...)})
}

// Wait is an Info event that starts a wait of up to wait (a terminal shows its progress).
func (t Tell) Wait(ctx context.Context, phase string, wait time.Duration, format string, a ...any) {
	t.S.Emit(ctx, outcome.Event{Phase: phase, Level: outcome.Info, Message: fmt.Sprintf(format, a...), Wait: wait})
}

// Fail ends the run failed, with reason and a message.
func (t Tell) Fail(ctx context.Context, phase string, reason diagnose.Category, format string, a ...any) {
	out := t.S.Outcome()
	out.Status, out.FailureReason = outcome.Failed, reason
	out.Message = fmt.Sprintf(format, a...)
	t.Event(ctx, phase, outcome.Error, "%s", out.Message)
}

// Recovered records what was found or done about an earlier run's work.
func (t Tell) Recovered(ctx context.Context, lvl outcome.Level, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	out := t.S.Outcome()
	out.Recovered = strings.TrimPrefix(out.Recovered+"; "+msg, "; ")
	t.Event(ctx, "recover", lvl, "%s", msg)
}
