// Command shepherd deploys Helm releases to Kubernetes with zero downtime, watches the rollout
// itself, and rolls a bad release back to the last good revision, saying why.
//
// On a GitHub runner (GITHUB_ACTIONS=true) it is the action: inputs from INPUT_*, outputs,
// job summary and annotations through the runner's files. Elsewhere it is a CLI:
//
//	shepherd deploy --release web --chart ./chart --image-tag v2 [--kubeconfig path] …
//
// This file and its siblings are the edge: the only code that reads the environment, parses
// flags, handles signals and exits.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/sdk"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main with its process dependencies injected, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ctx, abort, stop := signals(ctx)
	defer stop()
	if getenv("GITHUB_ACTIONS") == "true" {
		return runAction(ctx, abort, getenv, stdout)
	}
	return runCLI(ctx, abort, args, getenv, stdout, stderr)
}

// signals turns SIGINT/SIGTERM into contexts: the first signal cancels ctx, and the engine
// cleans up on a context of its own; a second one ends abort too, and the cleanup stops at
// once, leaving its phase on the release's lock for the next run.
//
// GitHub cancels a workflow with SIGINT, then SIGTERM 7.5 s later, then kills the process tree
// 2.5 s after that: a SIGTERM that follows a SIGINT is that same cancellation, not a user
// insisting, so it leaves the cleanup running (the cleanup puts traffic back on the known-good
// version first, and records each step on the Lease before it starts, so a kill at 10 s leaves
// the next run what it needs). A second SIGINT (Ctrl-C twice on a terminal), or any signal
// after that pair, stops the cleanup.
func signals(parent context.Context) (ctx, abort context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	abort, cancelAbort := context.WithCancel(context.WithoutCancel(parent))
	ch := make(chan os.Signal, 3)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		for n := 1; ; n++ {
			select {
			case sig := <-ch:
				switch {
				case n == 1:
					first = sig
					cancel()
					continue
				case n == 2 && oneCancellation(first, sig):
					continue
				}
				cancelAbort()
				return
			case <-done:
				return
			}
		}
	}()
	return ctx, abort, func() { signal.Stop(ch); close(done); cancel(); cancelAbort() }
}

// oneCancellation reports whether second, after first, is GitHub's cancellation sequence
// (SIGINT, then SIGTERM) rather than a second request to stop.
func oneCancellation(first, second os.Signal) bool {
	return first == os.Interrupt && second == syscall.SIGTERM
}

// engine is the library's entry point (a variable so the edge's own safety net can be tested).
var engine = sdk.Run

// execute runs the library and turns a panic that escaped it (a bug) into a failed outcome, so
// the user still gets outputs, a summary, an ::error and an ended GitHub deployment, never a
// Go crash. The library has the same net inside; this one also covers the edge's own calls.
func execute(ctx context.Context, cfg config.Config, o sdk.Options) (out sdk.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = sdk.Recovered(cfg, p)
		}
	}()
	return engine(ctx, cfg, o)
}

// scrubWriter writes what it is given without a URL's credentials or a known secret (the
// debug log: Helm's and client-go's lines may quote URLs).
type scrubWriter struct {
	w     io.Writer
	scrub func(string) string
}

func (s scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, s.scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// debugLogger logs to w at debug level when enabled, else nowhere. The configuration is never
// logged (it holds the kubeconfig).
func debugLogger(w io.Writer, enabled bool) *slog.Logger {
	if !enabled {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
