// Command testcluster builds the local control plane's binaries (once per machine, cached) and
// can run a cluster for manual use.
//
//	go run ./internal/testcluster/cmd/testcluster build   # build/cache binaries, with progress
//	go run ./internal/testcluster/cmd/testcluster up      # start a cluster until Ctrl-C
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "build" && os.Args[1] != "up") {
		fmt.Fprintln(os.Stderr, "usage: testcluster build|up")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	bins, err := testcluster.EnsureBinaries(ctx, testcluster.BuildOptions{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if os.Args[1] == "build" {
		fmt.Printf("cluster binaries: %s (%s)\n", bins.Dir, time.Since(start).Round(time.Second))
		g, err := testcluster.EnsureGateway(ctx, testcluster.BuildOptions{Progress: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("gateway (Traefik %s, Gateway API %s): %s (%s)\n", testcluster.TraefikVersion, testcluster.GatewayAPIVersion, g.Dir, time.Since(start).Round(time.Second))
		return
	}
	// The data plane is on: the example app's pods serve for real, with traffic and Prometheus.
	c, err := testcluster.Start(ctx, testcluster.Options{Binaries: bins, Progress: os.Stderr, DataPlane: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Stop()
	fmt.Printf("cluster up in %s\nexport KUBECONFIG=%s\nexport PROMETHEUS_URL=%s\n(Ctrl-C stops it)\n",
		c.StartupTime.Round(time.Millisecond), c.KubeconfigPath, c.PrometheusURL)
	<-ctx.Done()
}
