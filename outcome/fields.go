package outcome

import (
	"encoding/json"
	"strconv"
)

// Field is one named result of a run: an output of the action (action.yml declares the same
// name), a key of the CLI's --output json, and — unless it is a detail — a fact of the job
// summary and of the Slack message. Adding a field here adds it to all of them.
type Field struct {
	// Name is the output's name and the JSON key.
	Name string
	// Label is how a person reads it in the summary and the notifications.
	Label string
	// Value is the field's text for an outcome ("" when it has none).
	Value func(o Outcome) string
	// Detail marks a field whose value is JSON (the diagnosis, the revisions): an output and a
	// JSON key, shown in sections of their own rather than as a fact.
	Detail bool
	// Code shows the value as code in the summary and the notifications.
	Code bool
}

// Fields are every named result, in the order they are shown.
var Fields = []Field{
	{Name: "status", Label: "Status", Code: true, Value: func(o Outcome) string { return string(o.Status) }},
	{Name: "revision", Label: "Revision", Value: func(o Outcome) string { return itoa(o.Revision) }},
	{Name: "previous_revision", Label: "Revision before", Value: func(o Outcome) string { return itoa(o.PreviousRevision) }},
	{Name: "rollback_revision", Label: "Rolled back to", Value: func(o Outcome) string { return itoa(o.RollbackRevision) }},
	{Name: "failure_reason", Label: "Failure reason", Code: true, Value: func(o Outcome) string { return string(o.FailureReason) }},
	{Name: "reason", Label: "Reason", Value: func(o Outcome) string { return o.Reason }},
	{Name: "active_color", Label: "Live colour", Code: true, Value: func(o Outcome) string { return o.ActiveColor }},
	{Name: "canary_weight", Label: "Canary weight (%)", Value: func(o Outcome) string {
		if o.Canary == nil {
			return ""
		}
		return strconv.Itoa(o.Canary.Weight)
	}},
	{Name: "chart_version", Label: "Chart version", Code: true, Value: func(o Outcome) string { return o.ChartVersion }},
	{Name: "chart_digest", Label: "Chart digest", Code: true, Value: func(o Outcome) string { return o.ChartDigest }},
	{Name: "duration_seconds", Label: "Duration (s)", Value: func(o Outcome) string { return strconv.FormatFloat(o.Duration.Seconds(), 'f', 1, 64) }},
	{Name: "diagnosis", Label: "Diagnosis", Detail: true, Value: func(o Outcome) string {
		if o.Diagnosis == nil {
			return ""
		}
		return marshal(o.Diagnosis)
	}},
	{Name: "revisions", Label: "Revisions", Detail: true, Value: func(o Outcome) string {
		if len(o.Revisions) == 0 {
			return ""
		}
		return marshal(o.Revisions)
	}},
}

// Values are the fields' values for o, by name (the action's outputs).
func Values(o Outcome) map[string]string {
	out := make(map[string]string, len(Fields))
	for _, f := range Fields {
		out[f.Name] = f.Value(o)
	}
	return out
}

// Facts are the fields that have a value for o and are not details, in order.
func Facts(o Outcome) []Fact {
	var out []Fact
	for _, f := range Fields {
		if v := f.Value(o); v != "" && !f.Detail {
			out = append(out, Fact{Field: f, Value: v})
		}
	}
	return out
}

// Fact is a field with its value.
type Fact struct {
	Field
	Value string
}

func itoa(v int) string {
	if v == 0 {
		return ""
	}
	return strconv.Itoa(v)
}

func marshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
