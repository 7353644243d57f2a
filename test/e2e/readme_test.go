//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// The README's CLI example works as written against the local cluster: every ./shepherd line
// of it, in order, in a namespace of the test's own (the README's "default" becomes it).
func TestREADMECLIExample(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := string(readme)
	i := strings.Index(block, "<!-- cli-example")
	if i < 0 {
		t.Fatal("README has no cli-example block")
	}
	block = block[i:]
	block = block[strings.Index(block, "```sh\n")+6:]
	block = block[:strings.Index(block, "```")]
	var ran int
	var last cliRun
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "./shepherd ") {
			continue
		}
		args := shellWords(t, strings.TrimPrefix(line, "./shepherd "))
		for j, a := range args {
			if a == "default" && j > 0 && args[j-1] == "--namespace" {
				args[j] = ns
			}
		}
		last = runCLI(t, c, args...)
		if last.exit != 0 {
			t.Fatalf("README line %q: exit %d\n%s", line, last.exit, last.out)
		}
		ran++
	}
	if ran < 4 {
		t.Fatalf("ran %d ./shepherd lines of the README, want the whole example", ran)
	}
	var out struct {
		Status    string `json:"status"`
		Revisions []struct {
			Revision int      `json:"revision"`
			Status   string   `json:"status"`
			Images   []string `json:"images"`
		} `json:"revisions"`
	}
	if err := json.Unmarshal([]byte(last.out), &out); err != nil {
		t.Fatalf("the last line's --output json is not JSON: %v\n%s", err, last.out)
	}
	if n := len(out.Revisions); n != 3 || out.Revisions[2].Status != "deployed" || !strings.HasSuffix(out.Revisions[2].Images[0], ":1.0.0") {
		t.Errorf("history after the example: %+v; want 3 revisions, the last (the rollback) deployed on 1.0.0", out.Revisions)
	}
}

// shellWords splits a command line the way the README's shell would: spaces, and double quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}
