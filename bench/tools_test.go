package main

import (
	"os"
	"regexp"
	"testing"
)

// The anchor's helm is built from bench/tools; it must be the Helm that Shepherd links.
func TestAnchorPinMatchesShepherd(t *testing.T) {
	re := regexp.MustCompile(`(?m)^\s*helm\.sh/helm/v3 (v\S+)`)
	pin := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s pins no helm.sh/helm/v3", path)
		}
		return string(m[1])
	}
	if a, b := pin("../go.mod"), pin("tools/go.mod"); a != b {
		t.Errorf("Shepherd links Helm %s, the anchor builds %s: bench/tools/go.mod must pin the same", a, b)
	}
}
