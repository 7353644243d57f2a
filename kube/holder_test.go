package kube

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestHolderIDIsUniquePerCall(t *testing.T) {
	a, b := HolderID("https://github.com/acme/web/actions/runs/1 job deploy"), HolderID("https://github.com/acme/web/actions/runs/1 job deploy")
	if a == b || !strings.HasPrefix(a, "https://github.com/acme/web/actions/runs/1 job deploy #") {
		t.Errorf("HolderID: %q and %q", a, b)
	}
}

// Only a process that provably ran here, in this PID namespace, and is gone counts as dead: a
// live one, this one, one on another host, in another PID namespace (a job container sharing
// the hostname), one recorded by an older version (no namespace) or one whose record cannot
// be read never does.
func TestProvablyDead(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	start := startTime(pid)
	_ = cmd.Wait()
	host, _ := os.Hostname()
	live := exec.Command("sleep", "5")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	ns := pidNamespace()
	if ns == "" { // Linux always has it; without it no holder could be proven dead, so say so
		t.Fatal("no /proc/self/ns/pid: the lock's proof of a dead holder needs Linux's PID namespaces")
	}
	for _, tc := range []struct {
		name, rec string
		dead      bool
	}{
		{"exited", fmt.Sprintf("%s/%s/%d/%s/%s", host, bootID(), pid, orTicks(start), ns), true},
		{"running", fmt.Sprintf("%s/%s/%d/%s/%s", host, bootID(), live.Process.Pid, startTime(live.Process.Pid), ns), false},
		{"this process", thisProcess(), false},
		{"another host", fmt.Sprintf("elsewhere/%s/%d/1/%s", bootID(), pid, ns), false},
		{"another boot", fmt.Sprintf("%s/other-boot/%d/1/%s", host, pid, ns), false},
		{"another PID namespace", fmt.Sprintf("%s/%s/%d/%s/pid:[1]", host, bootID(), pid, orTicks(start)), false},
		{"an older record (no namespace)", fmt.Sprintf("%s/%s/%d/%s", host, bootID(), pid, orTicks(start)), false},
		{"unreadable", "", false},
	} {
		if got := provablyDead(tc.rec); got != tc.dead {
			t.Errorf("%s (%q): dead = %v, want %v", tc.name, tc.rec, got, tc.dead)
		}
	}
}

func orTicks(s string) string {
	if s == "" {
		return "1"
	}
	return s
}
