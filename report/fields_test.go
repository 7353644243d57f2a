package report

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// everyField is an outcome in which every field of outcome.Fields has a value.
func everyField() outcome.Outcome {
	return outcome.Outcome{Mode: config.ModeDeploy, Status: outcome.RolledBack, Release: "web", Namespace: "prod", Chart: "oci://r/web",
		ChartVersion: "1.4.2", ChartDigest: "sha256:9f2c", ImageTag: "2.0.0", Revision: 8, PreviousRevision: 7, HistoryRead: true,
		RollbackRevision: 7, FailureReason: diagnose.CrashLoop, Reason: "bad build", ActiveColor: "green",
		Canary: &outcome.CanaryReport{Weight: 25}, Duration: 42 * time.Second,
		Diagnosis: &diagnose.Diagnosis{Category: diagnose.CrashLoop, Summary: "exit 1"},
		Revisions: []outcome.Revision{{Revision: 7, Status: "deployed"}}}
}

// One description, every view: each field of outcome.Fields is an output, a key of the JSON,
// and (unless a detail) shown in the job summary — so a field added there shows everywhere.
func TestEveryFieldShowsEverywhere(t *testing.T) {
	o := everyField()
	outs := Outputs(o)
	var js bytes.Buffer
	if err := (&JSON{W: &js}).Finish(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	md := Markdown(o)
	if len(outs) != len(outcome.Fields) {
		t.Errorf("%d outputs for %d fields", len(outs), len(outcome.Fields))
	}
	for _, f := range outcome.Fields {
		v := f.Value(o)
		if v == "" {
			t.Errorf("%s: the test's outcome gives it no value", f.Name)
			continue
		}
		if outs[f.Name] != v {
			t.Errorf("output %s = %q, want %q", f.Name, outs[f.Name], v)
		}
		if _, ok := obj[f.Name]; !ok {
			t.Errorf("the JSON has no %s", f.Name)
		}
		if f.Name == "duration_seconds" {
			v = "| Duration | 42s |" // the summary rounds it for a person
		}
		if !f.Detail && !strings.Contains(md, v) {
			t.Errorf("the summary does not show %s (%q)", f.Name, v)
		}
	}
}

// A field the summary has no row of its own for gets one from its description.
func TestANewFieldGetsARow(t *testing.T) {
	saved := outcome.Fields
	t.Cleanup(func() { outcome.Fields = saved })
	outcome.Fields = append(append([]outcome.Field(nil), saved...),
		outcome.Field{Name: "ticket", Label: "Change ticket", Value: func(outcome.Outcome) string { return "CHG-42" }})
	o := everyField()
	if md := Markdown(o); !strings.Contains(md, "| Change ticket | CHG-42 |") {
		t.Errorf("the summary has no row for a new field:\n%s", md)
	}
	if Outputs(o)["ticket"] != "CHG-42" {
		t.Error("no output for a new field")
	}
}
