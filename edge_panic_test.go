package main

import (
	"context"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/sdk"
)

// A panic that escapes the engine (a bug) is a failed run as the runner sees any other: exit 1,
// the status output, a summary and an ::error — never a Go crash with no outputs.
func TestActionPanicIsAFailedRun(t *testing.T) {
	saved := engine
	t.Cleanup(func() { engine = saved })
	engine = func(context.Context, config.Config, sdk.Options) sdk.Outcome {
		var d *deploy.Outcome
		return *d // a nil dereference: a runtime panic, as a bug would cause
	}
	r := newEdgeRunner(t, map[string]string{"release": "web", "chart": "examples/chart", "kubeconfig": edgeKubeconfig()})
	code, stdout, _, outputs, summary := r.run(t)
	if code != 1 {
		t.Errorf("exit code = %d, want 1\n%s", code, stdout)
	}
	if outputs["status"] != string(deploy.Failed) {
		t.Errorf("status output = %q, want failed", outputs["status"])
	}
	if !strings.Contains(stdout, "::error") || !strings.Contains(stdout, "internal error, a bug") {
		t.Errorf("no ::error names the internal error:\n%s", stdout)
	}
	if !strings.Contains(summary, "internal error") {
		t.Errorf("the summary does not report it:\n%s", summary)
	}
	assertNoSecret(t, edgeKeyLine, stdout, map[string]string{"summary": summary})
}
