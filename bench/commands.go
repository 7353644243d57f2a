package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/runnerfiles"
)

// shepherdTimeout is the timeout input of every Shepherd run (the action's default).
const shepherdTimeout = "5m"

// healthyHelmTimeout is --timeout of Helm's healthy (non-atomic) upgrades; they finish long
// before it.
const healthyHelmTimeout = 5 * time.Minute

// detectMarker is the text of Shepherd's log line that says it has decided the rollout failed.
const detectMarker = "rollout failed"

// smokeMarker is in Shepherd's log line of a passed (or failed) smoke test.
const smokeMarker = "] smoke "

// markers are the log texts whose first arrival a run records (commandRun.Marks).
var markers = []string{detectMarker, smokeMarker}

// maskCommand starts the workflow command by which Shepherd asks the runner to hide a secret;
// the bench logs such lines without the secret.
const maskCommand = "::add-mask::"

// commandRun is one timed run of shepherd or helm.
type commandRun struct {
	Start    time.Time
	Returned time.Time // when the process had exited and its output was read
	Exit     int
	// Detected is when a stdout line containing detectMarker arrived (zero if none did).
	Detected time.Time
	// Marks are when a stdout line containing each of markers first arrived.
	Marks map[string]time.Time
	// Outputs are the step outputs (GITHUB_OUTPUT) of a Shepherd run.
	Outputs map[string]string
	// MaxRSS is the process's peak resident memory, in bytes.
	MaxRSS int64
	Log    string // the file holding the run's timestamped output
}

// runShepherd runs the binary exactly as a GitHub runner runs the container action step:
// inputs as INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, GITHUB_ACTIONS=true.
// stdout is streamed and every line timestamped as it arrives.
// extra are more inputs, name then value.
func (b *bench) runShepherd(ctx context.Context, ns, tag, logName string, extra ...string) (commandRun, error) {
	dir, err := os.MkdirTemp(b.work, "runner-")
	if err != nil {
		return commandRun{}, err
	}
	outFile, sumFile := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return commandRun{}, err
		}
	}
	inputs := map[string]string{"release": "web", "namespace": ns, "chart": b.chart, "image_tag": tag,
		"kubeconfig": string(b.c.Kubeconfig), "timeout": shepherdTimeout}
	for i := 0; i+1 < len(extra); i += 2 {
		inputs[extra[i]] = extra[i+1]
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GITHUB_ACTIONS=true",
		"GITHUB_OUTPUT=" + outFile, "GITHUB_STEP_SUMMARY=" + sumFile,
		"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=acme/web", "GITHUB_RUN_ID=42"}
	for k, v := range inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	// Shepherd runs the rollout (timeout), then on failure a cleanup bounded by its own 3m.
	r, err := b.runCommand(ctx, 10*time.Minute, logName, env, b.shepherd)
	if err != nil {
		return r, err
	}
	raw, _ := os.ReadFile(outFile)
	r.Outputs = runnerfiles.ParseOutputs(string(raw))
	return r, nil
}

// runHelm runs `helm upgrade --install web <chart> -n ns --set-string image.tag=tag [--atomic]
// --wait --timeout t --kubeconfig FILE`, with Helm's own directories in the scratch dir.
func (b *bench) runHelm(ctx context.Context, ns, tag string, atomic bool, timeout time.Duration, logName string) (commandRun, error) {
	home := filepath.Join(b.work, "helm-home")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "HELM_DRIVER=secret",
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"), "HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data")}
	args := []string{"upgrade", "--install", "web", b.chart, "-n", ns, "--set-string", "image.tag=" + tag}
	if atomic {
		args = append(args, "--atomic")
	}
	args = append(args, "--wait", "--timeout", timeout.String(), "--kubeconfig", b.kubeconfigPath)
	// --atomic waits up to the timeout for the upgrade, then again for the rollback.
	return b.runCommand(ctx, 2*timeout+2*time.Minute, logName, env, b.helm, args...)
}

// runCommand runs bin with exactly env, streaming stdout and stderr into logName (one line
// each, stamped with the time since the start, tagged with the stream) and noting when a
// stdout line first contains detectMarker. A non-zero exit is not an error; limit is.
func (b *bench) runCommand(ctx context.Context, limit time.Duration, logName string, env []string, bin string, args ...string) (commandRun, error) {
	r := commandRun{Log: filepath.Join(b.logs, logName+".log"), Marks: map[string]time.Time{}}
	logf, err := os.Create(r.Log)
	if err != nil {
		return r, err
	}
	defer logf.Close()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = b.root
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	fmt.Fprintf(logf, "$ %s %s\n", filepath.Base(bin), strings.Join(args, " "))
	var mu sync.Mutex
	var wg sync.WaitGroup
	stream := func(name string, rd io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(rd)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			now := time.Now()
			line := sc.Text()
			if strings.HasPrefix(line, maskCommand) { // a kubeconfig credential: never in a log
				line = maskCommand + "***"
			}
			mu.Lock()
			if name == "stdout" && r.Detected.IsZero() && strings.Contains(line, detectMarker) {
				r.Detected = now
			}
			for _, m := range markers {
				if _, seen := r.Marks[m]; !seen && name == "stdout" && strings.Contains(line, m) {
					r.Marks[m] = now
				}
			}
			fmt.Fprintf(logf, "+%8.3fs %s %s\n", now.Sub(r.Start).Seconds(), name, line)
			if b.o.verbose {
				fmt.Fprintf(os.Stderr, "    %s | %s\n", filepath.Base(bin), line)
			}
			mu.Unlock()
		}
	}
	wg.Add(2)
	r.Start = time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	go stream("stdout", stdout)
	go stream("stderr", stderr)
	hwm := watchPeakRSS(cmd.Process.Pid)
	wg.Wait() // all output read before Wait, as StdoutPipe requires
	r.MaxRSS = hwm()
	err = cmd.Wait()
	r.Returned = time.Now()
	fmt.Fprintf(logf, "+%8.3fs exit %v\n", r.Returned.Sub(r.Start).Seconds(), err)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("%s did not finish within %s: %w", filepath.Base(bin), limit, ctx.Err())
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
	case err != nil:
		return r, err
	}
	return r, nil
}

// watchPeakRSS samples the process's own peak resident memory (VmHWM of /proc/PID/status,
// counted from its exec) every 50 ms; the returned function stops and returns the last value,
// in bytes. (The rusage of wait4 would not do: its ru_maxrss carries the parent's peak
// through the fork, and the bench's own memory grows with the pods it lists.)
func watchPeakRSS(pid int) func() int64 {
	var mu sync.Mutex
	var peak int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v := vmHWM(pid); v > 0 {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// vmHWM reads VmHWM (kB) from /proc/PID/status, in bytes (0 when unreadable).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}
