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
	// A cancelled workflow sends SIGTERM: cancel the context; the engine cleans up on its own.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if getenv("GITHUB_ACTIONS") == "true" {
		return runAction(ctx, getenv, stdout)
	}
	return runCLI(ctx, args, getenv, stdout, stderr)
}

// debugLogger logs to w at debug level when enabled, else nowhere. The configuration is never
// logged (it holds the kubeconfig).
func debugLogger(w io.Writer, enabled bool) *slog.Logger {
	if !enabled {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
