package kube

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// AnnotationProcess records the lock holder's process (host, boot, pid, start time and PID
// namespace), so a later run on the same host and in the same PID namespace can prove it dead.
const AnnotationProcess = Prefix + "process"

// HolderID makes a lock holder's name unique to this process: two jobs of one workflow run (a
// deploy and an `if: failure()` rollback, a matrix), or a re-run, are different holders, and
// one never takes the other's lock for its own.
func HolderID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s #%s", name, hex.EncodeToString(b))
}

// thisProcess identifies this process: "host/boot/pid/start/pidns" (start: its start time in
// clock ticks since boot, so a reused pid is not mistaken for it; pidns: its PID namespace, as
// "pid:[4026531836]", so pids are only compared within one).
func thisProcess() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s/%s/%d/%s/%s", host, bootID(), pid, startTime(pid), pidNamespace())
}

// provablyDead reports whether the process recorded (see thisProcess) ran on this host since
// its last boot, in this PID namespace, and no longer runs: its lock can be taken over at once
// instead of after LeaseDuration. Anything not provable is not dead: another host, another PID
// namespace (job containers sharing a hostname see different pids), an unreadable /proc, or a
// record of an older version without its namespace.
func provablyDead(recorded string) bool {
	parts := strings.Split(recorded, "/")
	if len(parts) != 5 || parts[1] == "" || parts[3] == "" || parts[4] == "" {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[2])
	if err != nil || pid <= 0 || parts[0] != host || parts[1] != bootID() || parts[4] != pidNamespace() {
		return false
	}
	if pid == os.Getpid() {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	start := startTime(pid)
	return start != "" && start != parts[3] // the pid now belongs to another process
}

// pidNamespace is this process's PID namespace, "pid:[inode]" ("" when unreadable).
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// startTime is field 22 of /proc/PID/stat ("" when unreadable).
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}
