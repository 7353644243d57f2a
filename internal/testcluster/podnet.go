package testcluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Pod addresses that reach their processes. EndpointSlice validation refuses loopback
// addresses, so a pod's IP (kwok gives them from PodCIDR) must itself lead to the pod: the
// cluster runs in a network namespace of its own, where PodCIDR is routed locally (`ip route
// add local PodCIDR dev lo`), and each pod's process also answers at podIP:containerPort. No
// traffic leaves that namespace, and anything that routes by endpoints — a gateway — reaches
// the pods as on a real node.

// PodCIDR is the range kwok gives pod IPs from.
const PodCIDR = "10.244.0.0/16"

// netnsEnv marks a test binary already running in its own network namespace.
const netnsEnv = "SHEPHERD_TESTCLUSTER_NETNS"

// MainWithGateway is MainWithDataPlane in a network namespace of the test binary's own, where
// pods answer at their IPs, with a Gateway API implementation (Traefik) serving the cluster's
// Gateways (Cluster.Gateway). What needs the network (building the binaries and the gateway)
// happens before the binary enters the namespace; a machine without unshare or ip fails the
// package, never skips it.
func MainWithGateway(m *testing.M) {
	if !InNetns() {
		os.Exit(ReexecInNetns())
	}
	os.Exit(runMain(m, Options{DataPlane: true, PodNetwork: true, Gateway: true}))
}

// InNetns says whether this process runs in the network namespace ReexecInNetns made.
func InNetns() bool { return os.Getenv(netnsEnv) == "1" }

// ReexecInNetns builds what the cluster and its gateway need, then runs this program again,
// with the same arguments, in a new network namespace with loopback up and PodCIDR routed to
// it, and returns its exit code (a test binary's TestMain, or a program such as bench/).
func ReexecInNetns() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if _, err := EnsureBinaries(ctx, BuildOptions{Progress: os.Stderr}); err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		return 1
	}
	if _, err := EnsureGateway(ctx, BuildOptions{Progress: os.Stderr}); err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		return 1
	}
	script := "ip link set lo up && ip route add local " + PodCIDR + ` dev lo && exec "$0" "$@"`
	cmd := exec.Command("unshare", append([]string{"--net", "--", "/bin/sh", "-c", script, os.Args[0]}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "testcluster: a network namespace for the cluster (unshare --net, ip from iproute2, as root): %v\n", err)
		return 1
	}
	return 0
}

// forward makes the pod's process answer at podIP:containerPort (it listens on 127.0.0.1:port)
// until ctx ends.
func (pp *podProc) forward(ctx context.Context) {
	if pp.podIP == "" {
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(pp.podIP, strconv.Itoa(int(pp.containerPort))))
	if err != nil {
		fmt.Fprintf(pp.dp.c.progress, "testcluster: pod %s/%s: listen at its IP: %v\n", pp.ns, pp.name, err)
		return
	}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(pp.port), 2*time.Second)
			if err != nil {
				return // the process is down: as a closed port
			}
			defer out.Close()
			go func() { _, _ = io.Copy(out, in); out.(*net.TCPConn).CloseWrite() }()
			_, _ = io.Copy(in, out)
		}()
	}
}
