package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// canary is the demo's third story: a canary beside the stable version takes its share of real
// traffic, Prometheus sees half its requests fail, and the canary is stopped on that evidence
// within seconds — not at the end of its 30s stage — with the measured figures beside the
// stable track's.
func canary(ctx context.Context, out io.Writer, c *testcluster.Cluster, chart string) error {
	const ns = "demo-canary"
	if err := newNamespace(ctx, c, ns); err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Release, cfg.Namespace, cfg.Chart, cfg.Kubeconfig, cfg.Timeout = "api", ns, chart, c.Kubeconfig, 2*time.Minute
	cfg.Strategy, cfg.Set, cfg.PrometheusURL, cfg.Interval = config.StrategyCanary, []string{"replicaCount=4"}, c.PrometheusURL, 30*time.Second
	run := func(cfg config.Config) deploy.Outcome { return runner(ctx)(out, cfg) }
	fmt.Fprintf(out, "\n════ 6/7 canary: api 1.0.0 installed (4 replicas; a first install has no stable track to compare with) ════\n")
	cfg.ImageTag = "1.0.0"
	if o := run(cfg); o.Status != deploy.Succeeded {
		return fmt.Errorf("canary install: %s", o.Message)
	}
	time.Sleep(3 * time.Second) // let Prometheus see the stable track's traffic
	fmt.Fprintf(out, "\n════ 7/7 canary: api 1.1.0 answers half its requests with 500 — stages %s, error_threshold %g%%, judged on Prometheus ════\n",
		config.DefaultStages, cfg.ErrorThreshold)
	cfg.ImageTag, cfg.Set = "1.1.0", []string{"replicaCount=4", "env.FAIL_RATE=0.5"}
	if o := run(cfg); o.Status != deploy.RolledBack || o.FailureReason != "analysis" {
		return fmt.Errorf("the erroring canary was not stopped on its error rate: %s", o.Message)
	}
	return nil
}
