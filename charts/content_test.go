package charts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
)

func TestContentDigestSeesAnEditedTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n")
	write("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	load := func() *Resolved {
		t.Helper()
		ch, err := loader.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		res := &Resolved{Chart: ch}
		stamp(res)
		return res
	}
	first, again := load(), load()
	d := RecordedContent(first.Chart)
	if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
		t.Fatalf("content digest %q", d)
	}
	if RecordedContent(again.Chart) != d || !Same(first.Chart, again.Chart) {
		t.Errorf("the same files read twice differ: %s and %s", d, RecordedContent(again.Chart))
	}
	write("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
	edited := load()
	if RecordedContent(edited.Chart) == d {
		t.Errorf("an edited template keeps the content digest %s", d)
	}
	if Same(first.Chart, edited.Chart) {
		t.Errorf("a chart whose template changed (same name and version, no archive digest) is called the same")
	}
	// A revision recorded before content digests existed is compared as before.
	delete(first.Chart.Metadata.Annotations, AnnotationContent)
	if !Same(first.Chart, edited.Chart) {
		t.Errorf("a record without a content digest refuses its own chart")
	}
	if ContentDigest(nil) != "" || RecordedContent(nil) != "" {
		t.Errorf("no chart, no digest")
	}
}
