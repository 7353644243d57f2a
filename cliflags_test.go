package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateHelp = flag.Bool("update-help", false, "rewrite testdata/help/ from the commands' current --help")

// Each command's --help lists the same flags, in the same order, with the same words as the
// golden files under testdata/help (-update-help rewrites them after a change on purpose).
func TestCLIHelpGolden(t *testing.T) {
	for name := range commands {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{name, "--help"}, func(string) string { return "" }, &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d (stderr %q)", name, code, errb.String())
		}
		path := filepath.Join("testdata", "help", name+".txt")
		if *updateHelp {
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -run TestCLIHelpGolden -update-help . writes it)", err)
		}
		if string(want) != out.String() {
			t.Errorf("%s --help differs from %s (-update-help to accept):\n%s", name, path, out.String())
		}
	}
}

// deploy and promote (which runs a canary's last stage) both take every judge of the canary,
// whatever the judges' number or order: a flag added to canaryJudgeFlags reaches both.
func TestCanaryJudgeFlagsReachDeployAndPromote(t *testing.T) {
	for _, name := range []string{"deploy", "promote"} {
		has := map[string]flagSpec{}
		for _, f := range commands[name].flags {
			has[f.name] = f
		}
		for _, j := range canaryJudgeFlags {
			if f, ok := has[j.name]; !ok || f != j {
				t.Errorf("%s does not take the canary judge --%s as canaryJudgeFlags declares it", name, j.name)
			}
		}
	}
}
