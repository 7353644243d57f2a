package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/shepherd-deploy/shepherd/deploy"
)

// Actions reports on a GitHub Actions runner: log lines, outputs (GITHUB_OUTPUT), the job
// summary (GITHUB_STEP_SUMMARY) and an ::error annotation that says in one line why a run failed.
type Actions struct {
	A *githubactions.Action
	// RunURL, Environment and EnvironmentURL are the summary's links ("" leaves one out).
	RunURL, Environment, EnvironmentURL string
}

var _ deploy.Reporter = (*Actions)(nil)

// Event prints one timeline line to the job log.
func (r *Actions) Event(_ context.Context, e deploy.Event) {
	line := fmt.Sprintf("[+%5.1fs] %-12s %s", e.At.Seconds(), e.Phase, e.Message)
	switch e.Level {
	case deploy.Warn:
		r.A.Warningf("%s", line)
	default:
		r.A.Infof("%s", line)
	}
}

// Finish writes the outputs, the job summary and, when the run failed, the annotation.
func (r *Actions) Finish(_ context.Context, o deploy.Outcome) error {
	for k, v := range Outputs(o) {
		if r.A.Getenv("GITHUB_OUTPUT") != "" {
			r.A.SetOutput(k, v)
		}
	}
	if r.A.Getenv("GITHUB_STEP_SUMMARY") != "" {
		r.A.AddStepSummary(MarkdownWith(o, Links{Run: r.RunURL, Environment: r.Environment, EnvironmentURL: r.EnvironmentURL}))
	}
	if o.Status == deploy.Succeeded && o.Revision > 0 {
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

// Outputs are the action's outputs for an outcome (action.yml declares the same names).
func Outputs(o deploy.Outcome) map[string]string {
	diag, revs := "", ""
	if o.Diagnosis != nil {
		b, _ := json.Marshal(o.Diagnosis)
		diag = string(b)
	}
	if len(o.Revisions) > 0 {
		b, _ := json.Marshal(o.Revisions)
		revs = string(b)
	}
	weight := ""
	if o.Canary != nil {
		weight = strconv.Itoa(o.Canary.Weight)
	}
	return map[string]string{
		"canary_weight":     weight,
		"status":            string(o.Status),
		"revision":          itoa(o.Revision),
		"previous_revision": itoa(o.PreviousRevision),
		"rollback_revision": itoa(o.RollbackRevision),
		"failure_reason":    string(o.FailureReason),
		"diagnosis":         diag,
		"duration_seconds":  strconv.FormatFloat(o.Duration.Seconds(), 'f', 1, 64),
		"revisions":         revs,
		"reason":            o.Reason,
		"active_color":      o.ActiveColor,
		"chart_version":     o.ChartVersion,
		"chart_digest":      o.ChartDigest,
	}
}

func itoa(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}
