package report

import (
	"context"
	"encoding/json"
	"io"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// JSON reports for scripts: the outcome as one JSON object on W at the end; the live timeline
// goes to Events (stderr on the CLI), so W carries nothing else.
type JSON struct {
	W      io.Writer
	Events outcome.Reporter
}

var _ outcome.Reporter = (*JSON)(nil)

// Event passes the timeline line to Events.
func (j *JSON) Event(ctx context.Context, e outcome.Event) {
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
	Chain            []outcome.Step      `json:"rollback_chain,omitempty"`
	Revisions        []outcome.Revision  `json:"revisions,omitempty"`
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
func (j *JSON) Finish(_ context.Context, o outcome.Outcome) error {
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
	return enc.Encode(withFields(out, o))
}

// withFields is the JSON object of out with every field of outcome.Fields that has a value
// and no key of its own yet (as text; a detail's JSON as is), so that a field added there
// reaches scripts too.
func withFields(out jsonOutcome, o outcome.Outcome) map[string]any {
	b, _ := json.Marshal(out)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	for _, f := range outcome.Fields {
		v := f.Value(o)
		if _, ok := m[f.Name]; ok || v == "" {
			continue
		}
		if f.Detail {
			m[f.Name] = json.RawMessage(v)
		} else {
			m[f.Name] = v
		}
	}
	return m
}
