package diagnose

import (
	"strings"
	"testing"
)

func TestRedactReachesEveryString(t *testing.T) {
	d := Diagnosis{Summary: "Pod web: CrashLoopBackOff (password=hunter22)", Hint: "h",
		Signals: []Signal{{Message: "auth failed for token tok-abc-123"}},
		Pods: []PodEvidence{{Name: "web", Containers: []ContainerEvidence{{
			Message: "x", PreviousLogs: []string{"connecting with hunter22", "token=tok-abc-123; retry", "ok"}}}}},
		Events: []EventEvidence{{Message: "pulled with hunter22"}}}
	d = Scrubbed(d, masker([]string{"hunter22", "tok-abc-123", "ab"}).Replace)
	all := d.Summary + d.Signals[0].Message + strings.Join(d.Pods[0].Containers[0].PreviousLogs, "|") + d.Events[0].Message
	if strings.Contains(all, "hunter22") || strings.Contains(all, "tok-abc-123") {
		t.Errorf("a secret is left: %s", all)
	}
	if d.Pods[0].Containers[0].PreviousLogs[1] != "token=***; retry" {
		t.Errorf("log line = %q", d.Pods[0].Containers[0].PreviousLogs[1])
	}
	if !strings.Contains(d.Hint, "h") || d.Pods[0].Name != "web" {
		t.Error("a value too short to be a secret was masked")
	}
	if got := Redact("a tok-abc-123 b", nil); got != "a tok-abc-123 b" {
		t.Errorf("Redact without secrets changed the text: %q", got)
	}
}
