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

// Only a process that provably ran here and is gone counts as dead: a live one, this one, one
// on another host or one whose record cannot be read never does.
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
	for _, tc := range []struct {
		name, rec string
		dead      bool
	}{
		{"exited", fmt.Sprintf("%s/%s/%d/%s", host, bootID(), pid, orTicks(start)), true},
		{"running", fmt.Sprintf("%s/%s/%d/%s", host, bootID(), live.Process.Pid, startTime(live.Process.Pid)), false},
		{"this process", thisProcess(), false},
		{"another host", fmt.Sprintf("elsewhere/%s/%d/1", bootID(), pid), false},
		{"another boot", fmt.Sprintf("%s/other-boot/%d/1", host, pid), false},
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
