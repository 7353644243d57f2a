package outcome

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Every text of an outcome is scrubbed — URLs' credentials and known secrets — in a copy; the
// original is untouched and the numbers and times are kept.
func TestRedact(t *testing.T) {
	leak := "failed to fetch https://ci:url-Pw1@h/x.tgz?sig=sig-Pw2 : 404; token tok-Pw3"
	o := Outcome{Status: Failed, Message: leak, Revision: 7, Duration: time.Second, Reason: leak,
		Diagnosis: &diagnose.Diagnosis{Summary: leak, Pods: []diagnose.PodEvidence{{Name: leak}}},
		Timeline:  []Event{{Phase: "pre-flight", Message: leak, At: time.Millisecond}},
		Revisions: []Revision{{Revision: 3, Description: leak, Updated: time.Unix(1e9, 0)}},
		Canary:    &CanaryReport{Stages: []StageReport{{Value: leak}}}}
	before, _ := json.Marshal(o)
	got := Redact(o, NewScrubber([]string{"tok-Pw3"}))
	text, _ := json.Marshal(got)
	for _, s := range []string{"url-Pw1", "sig-Pw2", "tok-Pw3"} {
		if strings.Contains(string(text), s) {
			t.Errorf("%s left: %s", s, text)
		}
	}
	if want := "failed to fetch https://h/x.tgz?sig=*** : 404; token ***"; got.Message != want || got.Diagnosis.Pods[0].Name != want || got.Timeline[0].Message != want {
		t.Errorf("got %q", got.Message)
	}
	if got.Revision != 7 || got.Duration != time.Second || got.Timeline[0].At != time.Millisecond || !got.Revisions[0].Updated.Equal(time.Unix(1e9, 0)) {
		t.Errorf("numbers or times changed: %+v", got)
	}
	if after, _ := json.Marshal(o); string(after) != string(before) {
		t.Error("the original outcome was changed")
	}
}

type recorder struct {
	events []Event
	out    Outcome
}

func (r *recorder) Event(_ context.Context, e Event) { r.events = append(r.events, e) }
func (r *recorder) Finish(_ context.Context, o Outcome) error {
	r.out = o
	return nil
}

func TestRedactReporter(t *testing.T) {
	rec := &recorder{}
	r := RedactReporter(rec, NewScrubber([]string{"hook-Pw4"}))
	r.Event(context.Background(), Event{Message: "oci://u:p-Pw5@r/c and hook-Pw4"})
	_ = r.Finish(context.Background(), Outcome{Message: "hook-Pw4"})
	if rec.events[0].Message != "oci://r/c and ***" || rec.out.Message != "***" {
		t.Errorf("got %q, %q", rec.events[0].Message, rec.out.Message)
	}
	if RedactReporter(nil, nil) != nil || RedactEvents(nil, nil) != nil {
		t.Error("nil is not kept nil")
	}
}
