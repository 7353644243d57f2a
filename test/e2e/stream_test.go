//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/runnerfiles"
)

// running is an action run in progress, whose log can be waited on, and which can be
// signalled the way a runner cancels a step.
type running struct {
	t       *testing.T
	cmd     *exec.Cmd
	mu      sync.Mutex
	buf     bytes.Buffer
	outFile string
	sumFile string
	done    chan error
}

type lockedWriter struct{ r *running }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.buf.Write(p)
}

// startAction starts the binary as a runner would and returns at once.
func startAction(t *testing.T, inputs map[string]string, env ...string) *running {
	t.Helper()
	dir := t.TempDir()
	r := &running{t: t, outFile: filepath.Join(dir, "output"), sumFile: filepath.Join(dir, "summary"), done: make(chan error, 1)}
	r.cmd = exec.Command(shepherdBinary(t))
	r.cmd.Dir = repoRoot()
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_ACTIONS=true",
		"GITHUB_OUTPUT=" + r.outFile, "GITHUB_STEP_SUMMARY=" + r.sumFile,
		"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=acme/web", "GITHUB_RUN_ID=42"}
	for k, v := range inputs {
		r.cmd.Env = append(r.cmd.Env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Stdout, r.cmd.Stderr = lockedWriter{r}, lockedWriter{r}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	return r
}

func (r *running) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// waitFor blocks until the log contains s.
func (r *running) waitFor(s string, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(r.log(), s) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the run never printed %q:\n%s", s, r.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *running) signal(sig syscall.Signal) {
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("%s: %v; the run's log:\n%s", sig, err, r.log())
	}
}

// wait waits for the run to end and returns what a runner would see.
func (r *running) wait(timeout time.Duration) actionRun {
	r.t.Helper()
	var err error
	select {
	case err = <-r.done:
	case <-time.After(timeout):
		r.t.Fatalf("the run did not end within %s:\n%s", timeout, r.log())
	}
	res := actionRun{Stdout: r.log()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Exit = ee.ExitCode()
	}
	raw, _ := os.ReadFile(r.outFile)
	res.Outputs = runnerfiles.ParseOutputs(string(raw))
	sum, _ := os.ReadFile(r.sumFile)
	res.Summary = string(sum)
	if testing.Verbose() {
		r.t.Logf("shepherd exit %d\n%s", res.Exit, res.Stdout)
	}
	return res
}
