package runnerfiles

import (
	"reflect"
	"testing"
)

func TestParseOutputs(t *testing.T) {
	in := "status<<ghadelimiter_1\nrolled-back\nghadelimiter_1\ndiagnosis<<ghadelimiter_2\n{\"a\":1}\nline 2\nghadelimiter_2\nrevision<<ghadelimiter_3\n\nghadelimiter_3\n"
	want := map[string]string{"status": "rolled-back", "diagnosis": "{\"a\":1}\nline 2", "revision": ""}
	if got := ParseOutputs(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseOutputs = %q, want %q", got, want)
	}
}
