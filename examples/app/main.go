// Command app is the tiny HTTP service the Shepherd examples deploy.
//
// It serves a health check, one API endpoint and Prometheus metrics:
//
//	GET /api/health  200 {"status":"healthy","database":"connected","version":"..."} (503 when unhealthy)
//	GET /api/hello   200 {"message":"hello","version":"..."}
//	GET /metrics     http_requests_total{code,method,handler}, http_request_duration_seconds, app_info
//	                 (prometheus/client_golang, promhttp instrumentation)
//
// It listens on :8080, or on :$PORT, or on -addr (the flag wins). Knobs in the
// environment make it misbehave on purpose, to show what Shepherd does with a
// bad release:
//
//	VERSION=1.2.3          reported everywhere (default "dev")
//	FAIL_RATE=0.1          answer that fraction of /api/hello with 500, deterministically
//	                       (0.1 fails every 10th request)
//	LATENCY_MS=300         delay every /api/hello by that long
//	UNHEALTHY=true         /api/health answers 503, so the pod never becomes Ready
//	READY_DELAY_MS=4000    /api/health answers 503 ("starting") for 4 s after the start: a slow-to-Ready pod
//	REQUIRE_HEADER="X-Probe: yes" /api/health answers 403 without that header
//	TLS=self-signed        serve HTTPS with a certificate made at start
//	GREETING, GREETING_FILE config from env and a mounted file, shown by GET /api/config
//	CRASH_ON_START=message print "panic: message" and exit 1 at start: a crash loop
//
// On SIGTERM it stops accepting connections and lets in-flight requests finish
// (at most 10 seconds) before exiting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds how long in-flight requests get after SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if msg := getenv("CRASH_ON_START"); msg != "" {
		// What a crash loop's logs look like: kubectl logs --previous shows this.
		fmt.Fprintf(stderr, "panic: %s\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/examples/app/main.go\n", msg)
		return 1
	}

	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "listen `address` (when not given, :$PORT if PORT is set)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "app: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	if !flagSet(fs, "addr") {
		if port := getenv("PORT"); port != "" {
			*addr = ":" + port
		}
	}

	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := configFromEnv(getenv)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", cfg.version,
		"fail_rate", cfg.failRate, "latency", cfg.latency.String(), "unhealthy", cfg.unhealthy)
	if cfg.tls {
		if ln, err = tlsListener(ln); err != nil {
			log.Error("tls", "err", err)
			return 1
		}
	}
	if err := serve(ctx, ln, newApp(cfg).routes(), log); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// serve serves h on ln until ctx is done, then shuts down gracefully: the
// listener closes at once and in-flight requests get shutdownTimeout to finish.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err // Serve never returns nil
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // out of time: cut the connections still open
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
