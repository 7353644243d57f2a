package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRunCrashOnStart(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, env(map[string]string{"CRASH_ON_START": "database connection refused"}), &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "panic: database connection refused\n") {
		t.Errorf("stderr = %q, want it to start with the panic line", got)
	}
}

func TestRunBadConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, env(map[string]string{"FAIL_RATE": "lots"}), &stdout, &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stdout.String(), "FAIL_RATE") {
		t.Errorf("log does not name the bad knob: %s", stdout.String())
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"extra"}} {
		if code := run(context.Background(), args, env(nil), io.Discard, io.Discard); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}

// freePort returns a port nothing is listening on (at the time of asking).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestRunAddress(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // run listens, then shuts down at once

	t.Run("PORT", func(t *testing.T) {
		port := freePort(t)
		var stdout bytes.Buffer
		if code := run(cancelled, nil, env(map[string]string{"PORT": port}), &stdout, io.Discard); code != 0 {
			t.Fatalf("exit code = %d, log:\n%s", code, stdout.String())
		}
		if !strings.Contains(stdout.String(), ":"+port+`"`) {
			t.Errorf("did not listen on PORT %s; log:\n%s", port, stdout.String())
		}
	})
	t.Run("flag wins over PORT", func(t *testing.T) {
		port := freePort(t)
		var stdout bytes.Buffer
		if code := run(cancelled, []string{"-addr", "127.0.0.1:0"}, env(map[string]string{"PORT": port}), &stdout, io.Discard); code != 0 {
			t.Fatalf("exit code = %d, log:\n%s", code, stdout.String())
		}
		if log := stdout.String(); !strings.Contains(log, `"addr":"127.0.0.1:`) || strings.Contains(log, ":"+port+`"`) {
			t.Errorf("did not listen on -addr; log:\n%s", log)
		}
	})
}

// TestServeGracefulShutdown: after the signal, new connections are refused but
// a request already in flight still gets its answer.
func TestServeGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, h, slog.New(slog.DiscardHandler)) }()

	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{string(b), err}
	}()
	<-entered
	stop() // SIGTERM

	// The listener closes promptly...
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("serve returned (%v) before the in-flight request finished", err)
	default:
	}

	// ...and the in-flight request is answered before serve returns.
	close(release)
	if r := <-slow; r.err != nil || r.body != "done" {
		t.Errorf("in-flight request: body %q, err %v", r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return after the last request finished")
	}
}
