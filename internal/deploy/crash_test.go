package deploy

import (
	"context"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/config"
)

type recordingReporter struct{ events []Event }

func (r *recordingReporter) Event(_ context.Context, e Event) { r.events = append(r.events, e) }

func (r *recordingReporter) Finish(context.Context, Outcome) error { return nil }

// A bug's panic (here: a run without its Helm client) never leaves Run: it is a failed outcome
// with an error event, and says where the next run picks up.
func TestRunTurnsAPanicIntoAFailedOutcome(t *testing.T) {
	cfg := config.Default()
	cfg.Mode, cfg.Release, cfg.Namespace = config.ModeHistory, "web", "default"
	rep := &recordingReporter{}
	var out Outcome
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Run panicked: %v", p)
			}
		}()
		out = Run(context.Background(), cfg, Deps{Reporter: rep})
	}()
	if out.Status != Failed || !strings.Contains(out.Message, "internal error, a bug") {
		t.Fatalf("outcome %s: %q, want failed naming the internal error", out.Status, out.Message)
	}
	if len(rep.events) == 0 || rep.events[len(rep.events)-1].Level != Error {
		t.Errorf("no error event was reported: %+v", rep.events)
	}
}
