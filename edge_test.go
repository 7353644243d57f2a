package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/report"
)

// edgeKeyLine is the middle line of the fake private key: what a leak would show.
const edgeKeyLine = "MHcCAQEEIEdgeTestPrivateKeyMaterialNotRealAtAll0123456789oAoGCCqGSM49"

var (
	edgeKeyPEM  = "-----BEGIN EC PRIVATE KEY-----\n" + edgeKeyLine + "\n-----END EC PRIVATE KEY-----\n"
	edgeKeyData = base64.StdEncoding.EncodeToString([]byte(edgeKeyPEM))
	edgeCrtData = base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIBedgeTestCertificate\n-----END CERTIFICATE-----\n"))
)

// edgeKubeconfig is syntactically valid and points at a port nothing listens on.
func edgeKubeconfig() string {
	return `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: ci
  user:
    client-certificate-data: ` + edgeCrtData + `
    client-key-data: ` + edgeKeyData + `
contexts:
- name: test
  context:
    cluster: test
    user: ci
current-context: test
`
}

// edgeRunner is one run of the action with a strict environment.
type edgeRunner struct {
	env                 map[string]string
	outputFile, summary string
}

func newEdgeRunner(t *testing.T, inputs map[string]string) *edgeRunner {
	t.Helper()
	dir := t.TempDir()
	r := &edgeRunner{
		env: map[string]string{
			"GITHUB_ACTIONS":      "true",
			"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
			"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		},
		outputFile: filepath.Join(dir, "output"),
		summary:    filepath.Join(dir, "summary"),
	}
	for _, f := range []string{r.outputFile, r.summary} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range inputs {
		r.env["INPUT_"+strings.ToUpper(k)] = v
	}
	return r
}

// getenv is strict: only what the test set exists.
func (r *edgeRunner) getenv(k string) string { return r.env[k] }

func (r *edgeRunner) run(t *testing.T) (code int, stdout, stderr string, outputs map[string]string, summary string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code = run(ctx, []string{"ignored"}, r.getenv, &out, &errb)
	rawOut, err := os.ReadFile(r.outputFile)
	if err != nil {
		t.Fatal(err)
	}
	rawSummary, err := os.ReadFile(r.summary)
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String(), parseGitHubOutput(t, string(rawOut)), string(rawSummary)
}

// parseGitHubOutput parses a GITHUB_OUTPUT file (name<<DELIM, value lines, DELIM; or name=value).
func parseGitHubOutput(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			closed := false
			for i++; i < len(lines); i++ {
				l := strings.TrimSuffix(lines[i], "\r")
				if l == delim {
					closed = true
					break
				}
				val = append(val, l)
			}
			if !closed {
				t.Fatalf("GITHUB_OUTPUT: %s<<%s is not closed:\n%s", name, delim, s)
			}
			if _, dup := out[name]; dup {
				t.Errorf("GITHUB_OUTPUT: %s set twice", name)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT: unparsable line %q in:\n%s", line, s)
		}
		out[name] = val
	}
	return out
}

// assertNoSecret checks that secret appears in stdout only in ::add-mask:: lines, that those
// come before anything else, and that it is nowhere in the other texts.
func assertNoSecret(t *testing.T, secret, stdout string, others map[string]string) {
	t.Helper()
	seenOther := false
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "::add-mask::") {
			if seenOther {
				t.Errorf("mask %q comes after other output", l)
			}
			continue
		}
		if l != "" {
			seenOther = true
		}
		if strings.Contains(l, secret) {
			t.Errorf("stdout line leaks the secret: %q", l)
		}
	}
	for name, text := range others {
		if strings.Contains(text, secret) {
			t.Errorf("%s leaks the secret", name)
		}
	}
}

func TestActionInvalidInputs(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		// wantInputs must each be named by an ::error line.
		wantInputs []string
		secrets    []string
	}{
		{
			name: "unknown strategy",
			inputs: map[string]string{"release": "web", "chart": "./chart", "strategy": "yolo",
				"kubeconfig": edgeKubeconfig()},
			wantInputs: []string{"strategy"},
			secrets:    []string{edgeKeyData, edgeKeyLine},
		},
		{
			name: "several bad inputs",
			inputs: map[string]string{"release": "Web_App", "chart": "./chart", "image_tag": "v1;rm -rf /",
				"timeout": "soon", "health_url": "ftp://x", "kubeconfig": edgeKubeconfig()},
			wantInputs: []string{"release", "image_tag", "timeout", "health_url"},
			secrets:    []string{edgeKeyData, edgeKeyLine},
		},
		{
			name: "broken kubeconfig holding a token",
			inputs: map[string]string{"release": "web", "chart": "./chart",
				"kubeconfig": "users:\n- name: ci\n  user:\n    token: edgeTokenSecretValue42\n  oops: [\n"},
			wantInputs: []string{"kubeconfig"},
			secrets:    []string{"edgeTokenSecretValue42"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newEdgeRunner(t, tt.inputs)
			code, stdout, stderr, outputs, summary := r.run(t)
			if code != 1 {
				t.Errorf("exit code = %d, want 1\nstdout:\n%s", code, stdout)
			}
			if outputs["status"] != string(deploy.Failed) {
				t.Errorf("status output = %q, want failed (outputs %q)", outputs["status"], outputs)
			}
			for k := range report.Outputs(deploy.Outcome{}) {
				if _, ok := outputs[k]; !ok {
					t.Errorf("output %q not written", k)
				}
			}
			for _, in := range tt.wantInputs {
				found := false
				for _, l := range strings.Split(stdout, "\n") {
					if strings.HasPrefix(l, "::error") && strings.Contains(l, in+": ") {
						found = true
					}
				}
				if !found {
					t.Errorf("no ::error line names %q; stdout:\n%s", in, stdout)
				}
			}
			if !strings.Contains(summary, "failed") || !strings.Contains(summary, "invalid input") {
				t.Errorf("step summary does not report the invalid input:\n%s", summary)
			}
			for _, s := range tt.secrets {
				assertNoSecret(t, s, stdout, map[string]string{"stderr": stderr, "summary": summary,
					"outputs": strings.Join(mapValues(outputs), "\n")})
			}
			// The secrets were masked, so the runner would hide them everywhere.
			for _, s := range tt.secrets[:1] {
				if !strings.Contains(stdout, "::add-mask::"+s+"\n") {
					t.Errorf("%q was not masked; stdout:\n%s", s, stdout)
				}
			}
		})
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestActionMissingKubeconfig(t *testing.T) {
	r := newEdgeRunner(t, map[string]string{"release": "web", "chart": "./chart"})
	code, stdout, _, outputs, summary := r.run(t)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if outputs["status"] != string(deploy.Failed) {
		t.Errorf("status output = %q, want failed", outputs["status"])
	}
	if !strings.Contains(stdout, "kubeconfig: required") {
		t.Errorf("stdout does not say kubeconfig is required:\n%s", stdout)
	}
	if !strings.Contains(summary, "kubeconfig: required") {
		t.Errorf("summary does not say kubeconfig is required:\n%s", summary)
	}
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, nil} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
		if code != 0 {
			t.Errorf("run(%q) = %d, want 0", args, code)
		}
		for _, want := range []string{"usage:", "shepherd deploy   --release NAME --chart", "shepherd COMMAND --help"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run(%q) stdout lacks %q:\n%s", args, want, out.String())
			}
		}
	}
}

// Each command's --help goes to stdout, exits 0, and lists only the flags that command uses, in
// the order a user needs them, each with a sentence and its default.
func TestCLICommandHelp(t *testing.T) {
	cases := map[string]struct{ want, not []string }{
		"deploy": {want: []string{"usage: shepherd deploy --release NAME --chart DIR|TGZ", "--release NAME", "--timeout DURATION",
			"(default 5m)", "--image-tag-key PATH", "(default image.tag)", "--dry-run", "--debug", "--output FORMAT", "(default text)"},
			not: []string{"--reason", "--revision", "--verify-duration", "--force"}},
		"rollback": {want: []string{"usage: shepherd rollback --release NAME [--revision N] [--reason TEXT] [--force]", "--verify-duration DURATION",
			"(default 60s)", "--max-cascade N", "(default 2)", "--force", "--debug"},
			not: []string{"--chart", "--image-tag", "--set", "--dry-run"}},
		"history": {want: []string{"usage: shepherd history --release NAME", "--namespace NAME", "(default default)", "--debug"},
			not: []string{"--chart", "--reason", "--timeout", "--revision", "--image-tag"}},
	}
	for cmd, tc := range cases {
		for _, h := range []string{"--help", "-h"} {
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{cmd, h}, func(string) string { return "" }, &out, &errb); code != 0 {
				t.Errorf("%s %s: exit %d, want 0 (stderr %q)", cmd, h, code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%s %s: stdout lacks %q:\n%s", cmd, h, w, out.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out.String(), n+" ") || strings.Contains(out.String(), n+"\n") {
					t.Errorf("%s %s lists %s, which it does not use:\n%s", cmd, h, n, out.String())
				}
			}
		}
	}
	var out, errb bytes.Buffer
	run(context.Background(), []string{"deploy", "--help"}, func(string) string { return "" }, &out, &errb)
	if i, j := strings.Index(out.String(), "--release"), strings.Index(out.String(), "--debug"); i < 0 || j < i {
		t.Errorf("deploy --help: --release should come first and --debug last:\n%s", out.String())
	}
}

// A kubeconfig file that is empty or not a kubeconfig is named as such, the same kind of error.
func TestCLIBadKubeconfigFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "garbage": "{{{ not yaml", "no-clusters": "apiVersion: v1\nkind: Config\n"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"history", "--release", "web", "--kubeconfig", path}, func(string) string { return "" }, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "kubeconfig: ") || !strings.Contains(errb.String(), path) {
			t.Errorf("%s kubeconfig: exit %d, stderr %q; want 1 naming %s", name, code, errb.String(), path)
		}
		if strings.Contains(errb.String(), "not a path") {
			t.Errorf("%s kubeconfig: the action's wording about content reached the CLI: %q", name, errb.String())
		}
	}
}

// Not on a terminal, a rollback without --force says how to proceed instead of hanging.
func TestCLIRollbackNeedsForceOffTerminal(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(edgeKubeconfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"rollback", "--release", "web", "--kubeconfig", kc}, func(string) string { return "" }, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "add --force") {
		t.Errorf("exit %d, stderr %q; want 2 and a hint to add --force", code, errb.String())
	}
}

func TestCLIUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"yolo"}, func(string) string { return "" }, &out, &errb)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(errb.String(), `unknown command "yolo"`) {
		t.Errorf("stderr = %q, want it to name the unknown command", errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out.String())
	}
}

func TestCLIBadFlag(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"deploy", "--no-such-flag"}, func(string) string { return "" }, &out, &errb)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "no-such-flag") {
		t.Errorf("stderr = %q, want it to name the flag", errb.String())
	}
}

func TestCLIInvalidInputs(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(edgeKubeconfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"deploy", "--kubeconfig", kc, "--release", "web", "--chart", "./chart",
		"--strategy", "yolo", "--image-tag", "$(id)"}, func(string) string { return "" }, &out, &errb)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	for _, want := range []string{"invalid input", "strategy: ", "image_tag: "} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	for _, s := range []string{edgeKeyData, edgeKeyLine} {
		if strings.Contains(out.String()+errb.String(), s) {
			t.Errorf("output leaks the client key")
		}
	}
}

func TestCLIMissingKubeconfigFile(t *testing.T) {
	var out, errb bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope")
	code := run(context.Background(), []string{"deploy", "--kubeconfig", missing, "--release", "web", "--chart", "./chart"},
		func(string) string { return "" }, &out, &errb)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "kubeconfig") || !strings.Contains(errb.String(), missing) {
		t.Errorf("stderr = %q, want it to name the kubeconfig path", errb.String())
	}
}
