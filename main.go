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

// signals turns SIGINT/SIGTERM into contexts: the first signal (a cancelled workflow sends
// SIGTERM; Ctrl-C on a terminal) cancels ctx, and the engine cleans up on a context of its
// own; a second one ends abort too, and the cleanup stops at once, leaving its phase on the
// release's lock for the next run.
func signals(parent context.Context) (ctx, abort context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	abort, cancelAbort := context.WithCancel(context.WithoutCancel(parent))
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-ch:
				if n == 1 {
					cancel()
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

// debugLogger logs to w at debug level when enabled, else nowhere. The configuration is never
// logged (it holds the kubeconfig).
func debugLogger(w io.Writer, enabled bool) *slog.Logger {
	if !enabled {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
