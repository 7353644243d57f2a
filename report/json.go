package report

import (
	"context"
	"encoding/json"
	"io"

	"github.com/shepherd-deploy/shepherd/deploy"
	"github.com/shepherd-deploy/shepherd/diagnose"
)

// JSON reports for scripts: the outcome as one JSON object on W at the end; the live timeline
// goes to Events (stderr on the CLI), so W carries nothing else.
type JSON struct {
	W      io.Writer
	Events deploy.Reporter
}

var _ deploy.Reporter = (*JSON)(nil)

// Event passes the timeline line to Events.
func (j *JSON) Event(ctx context.Context, e deploy.Event) {
	if j.Events != nil {
		j.Events.Event(ctx, e)
	}
}

// jsonOutcome is the outcome as scripts read it: the action's output names, and the details.
type jsonOutcome struct {
	Status           string              `json:"status"`
	Mode             string              `json:"mode"`
	Release          string              `json:"release"`
	Namespace        string              `json:"namespace"`
	ChartVersion     string              `json:"chart_version,omitempty"`
	ChartDigest      string              `json:"chart_digest,omitempty"`
	Message          string              `json:"message"`
	Revision         int                 `json:"revision,omitempty"`
	PreviousRevision *int                `json:"previous_revision,omitempty"`
	RollbackRevision int                 `json:"rollback_revision,omitempty"`
	FailureReason    string              `json:"failure_reason,omitempty"`
	Reason           string              `json:"reason,omitempty"`
	Recovered        string              `json:"recovered,omitempty"`
	DurationSeconds  float64             `json:"duration_seconds"`
	Chain            []deploy.Step       `json:"rollback_chain,omitempty"`
	Revisions        []deploy.Revision   `json:"revisions,omitempty"`
	Diagnosis        *diagnose.Diagnosis `json:"diagnosis,omitempty"`
	Diff             string              `json:"diff,omitempty"`
	Timeline         []jsonEvent         `json:"timeline"`
	ExitCode         int                 `json:"exit_code"`
}

type jsonEvent struct {
	AtSeconds float64 `json:"at_seconds"`
	Phase     string  `json:"phase"`
	Level     string  `json:"level"`
	Message   string  `json:"message"`
}

// Finish writes the outcome as JSON.
func (j *JSON) Finish(_ context.Context, o deploy.Outcome) error {
	out := jsonOutcome{Status: string(o.Status), Mode: string(o.Mode), Release: o.Release, Namespace: o.Namespace,
		Message: o.Message, ChartVersion: o.ChartVersion, ChartDigest: o.ChartDigest, Revision: o.Revision, RollbackRevision: o.RollbackRevision, FailureReason: string(o.FailureReason),
		Reason: o.Reason, Recovered: o.Recovered, DurationSeconds: o.Duration.Seconds(), Chain: o.Chain,
		Revisions: o.Revisions, Diagnosis: o.Diagnosis, Diff: o.Diff, Timeline: []jsonEvent{}, ExitCode: o.ExitCode()}
	if o.HistoryRead {
		out.PreviousRevision = &o.PreviousRevision
	}
	for _, e := range o.Timeline {
		out.Timeline = append(out.Timeline, jsonEvent{AtSeconds: e.At.Seconds(), Phase: e.Phase, Level: string(e.Level), Message: e.Message})
	}
	enc := json.NewEncoder(j.W)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
