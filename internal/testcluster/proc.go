package testcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is one started component process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited and been reaped
	err  error
}

// start runs bin in its own process group with its output in logs/<name>.log. The child gets
// SIGKILL when this process dies (Pdeathsig), so a killed test binary leaves nothing behind.
func (c *Cluster) start(name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(c.Dir, "logs", name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("testcluster: start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.mu.Lock()
	if _, seen := c.procs[name]; !seen {
		c.order = append(c.order, name)
	}
	c.procs[name] = p
	c.mu.Unlock()
	return p, nil
}

// kill SIGKILLs the named process's group and waits for it to be reaped.
func (c *Cluster) kill(name string) {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// deadProcess names a started process that has exited, if any.
func (c *Cluster) deadProcess() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.order {
		select {
		case <-c.procs[n].done:
			return n, c.procs[n].err
		default:
		}
	}
	return "", nil
}

// PIDs returns the process IDs of the running components, by name.
func (c *Cluster) PIDs() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for n, p := range c.procs {
		select {
		case <-p.done:
		default:
			out[n] = p.cmd.Process.Pid
		}
	}
	return out
}

// logTails returns the last lines of every component log, for start-up failures.
func (c *Cluster) logTails() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, n := range c.order {
		data, _ := os.ReadFile(c.procs[n].log)
		fmt.Fprintf(&b, "--- %s (last lines of %s)\n%s\n", n, c.procs[n].log, lastLines(string(data), 10))
	}
	return b.String()
}

// Freeze stops process name ("kube-apiserver", "etcd") with SIGSTOP for d, then lets it go on
// (SIGCONT): a control plane that hangs rather than goes away, as one under a stalled disk or
// a paused VM does. It returns once the process runs again.
func (c *Cluster) Freeze(name string, d time.Duration) error {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("testcluster: no process %q to freeze", name)
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(d)
	return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
}
