//go:build e2e

// Package actionrun runs the shepherd binary in tests exactly as a GitHub runner runs a
// container action step: inputs as INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
// files, GITHUB_ACTIONS=true. The e2e packages share it. It is test support, built only with the
// e2e tag: never part of the library or the binary.
package actionrun

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/runnerfiles"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary builds the shepherd binary once per test process, as the Dockerfile does.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shepherd-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "shepherd")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		cmd.Dir = Root()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build shepherd: %v", buildErr)
	}
	return binPath
}

// Result is what a runner sees of one step.
type Result struct {
	Exit    int
	Stdout  string
	Outputs map[string]string
	Summary string
}

// Run runs the binary as a step with inputs until ctx ends (then it is interrupted, as a
// cancelled job is).
func Run(t testing.TB, ctx context.Context, inputs map[string]string, env ...string) Result {
	t.Helper()
	cmd := exec.CommandContext(ctx, Binary(t))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	return RunCmd(t, cmd, inputs, env...)
}

// RunCmd runs cmd (the binary, or a wrapper that execs it) as a runner runs a container
// action step.
func RunCmd(t testing.TB, cmd *exec.Cmd, inputs map[string]string, env ...string) Result {
	t.Helper()
	dir := t.TempDir()
	outFile, sumFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd.Dir = Root()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_ACTIONS=true",
		"GITHUB_OUTPUT=" + outFile, "GITHUB_STEP_SUMMARY=" + sumFile,
		"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=acme/web", "GITHUB_RUN_ID=42"}
	for k, v := range inputs {
		cmd.Env = append(cmd.Env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	cmd.WaitDelay = time.Minute
	err := cmd.Run()
	r := Result{Stdout: stdout.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run shepherd: %v", err)
	}
	raw, _ := os.ReadFile(outFile)
	r.Outputs = runnerfiles.ParseOutputs(string(raw))
	sum, _ := os.ReadFile(sumFile)
	r.Summary = string(sum)
	if testing.Verbose() {
		t.Logf("shepherd exit %d\n%s", r.Exit, r.Stdout)
	}
	return r
}

// Unmasked is a step's log without its ::add-mask:: commands (which name the secrets the
// runner hides), for checking that no secret shows anywhere else.
func Unmasked(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
