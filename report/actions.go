package report

import (
	"context"
	"fmt"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/shepherd-deploy/shepherd/outcome"
)

// Actions reports on a GitHub Actions runner: log lines, outputs (GITHUB_OUTPUT), the job
// summary (GITHUB_STEP_SUMMARY) and an ::error annotation that says in one line why a run failed.
type Actions struct {
	A *githubactions.Action
	// RunURL, Environment and EnvironmentURL are the summary's links ("" leaves one out).
	RunURL, Environment, EnvironmentURL string
}

var _ outcome.Reporter = (*Actions)(nil)

// Event prints one timeline line to the job log.
func (r *Actions) Event(_ context.Context, e outcome.Event) {
	line := fmt.Sprintf("[+%5.1fs] %-12s %s", e.At.Seconds(), e.Phase, e.Message)
	switch e.Level {
	case outcome.Warn:
		r.A.Warningf("%s", line)
	default:
		r.A.Infof("%s", line)
	}
}

// Finish writes the outputs, the job summary and, when the run failed, the annotation.
func (r *Actions) Finish(_ context.Context, o outcome.Outcome) error {
	for k, v := range Outputs(o) {
		if r.A.Getenv("GITHUB_OUTPUT") != "" {
			r.A.SetOutput(k, v)
		}
	}
	if r.A.Getenv("GITHUB_STEP_SUMMARY") != "" {
		r.A.AddStepSummary(MarkdownWith(o, Links{Run: r.RunURL, Environment: r.Environment, EnvironmentURL: r.EnvironmentURL}))
	}
	if o.Status == outcome.Succeeded && o.Revision > 0 {
		r.A.WithFieldsMap(map[string]string{"title": "Shepherd: deployed"}).Noticef("%s is on revision %d", o.Release, o.Revision)
	}
	if o.ExitCode() != 0 {
		title := "Shepherd: " + string(o.Status)
		if o.FailureReason != "" {
			title += " (" + string(o.FailureReason) + ")"
		}
		r.A.WithFieldsMap(map[string]string{"title": title}).Errorf("%s", o.Message)
	}
	return nil
}

// Outputs are the action's outputs for an outcome: every field of outcome.Fields (action.yml
// declares the same names).
func Outputs(o outcome.Outcome) map[string]string { return outcome.Values(o) }
