package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
)

// blueGreen is the demo's second story: a release deployed blue-green (the new version beside
// the live one, smoke-tested through a port-forward, then the Services switch), and a rollback
// asked for during the grace period that switches back at once, without waiting for the run
// that holds the release.
func blueGreen(ctx context.Context, out io.Writer, c *testcluster.Cluster, chart string) error {
	const ns = "demo-bg"
	if err := newNamespace(ctx, c, ns); err != nil {
		return err
	}
	base := config.Default()
	base.Release, base.Namespace, base.Chart, base.Kubeconfig, base.Timeout = "shop", ns, chart, c.Kubeconfig, 2*time.Minute
	base.Strategy, base.GracePeriod, base.Set = config.StrategyBlueGreen, 2*time.Second, []string{"replicaCount=2"}
	run := runner(ctx)

	fmt.Fprintf(out, "\n════ 4/7 blue-green: shop 1.0.0 goes live on blue ════\n")
	cfg := base
	cfg.ImageTag = "1.0.0"
	if o := run(out, cfg); o.Status != deploy.Succeeded {
		return fmt.Errorf("blue-green install: %s", o.Message)
	}

	fmt.Fprintf(out, "\n════ 5/7 blue-green: shop 1.1.0 on green, smoke-tested, switched — then rolled back during its grace period ════\n")
	cfg.ImageTag, cfg.GracePeriod = "1.1.0", time.Minute
	var deployLog bytes.Buffer
	done := make(chan deploy.Outcome, 1)
	go func() { done <- run(&deployLog, cfg) }()
	for {
		st, err := kube.Peek(ctx, c.Client, ns, "shop")
		if err == nil && st != nil && st.Phase == kube.PhaseSwitched {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case o := <-done:
			out.Write(deployLog.Bytes())
			return fmt.Errorf("the blue-green deploy ended before its grace period: %s", o.Message)
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "(green is live and in its 1m grace period, blue warm; someone runs `shepherd rollback --release shop --reason \"checkout errors\"`:)\n")
	rb := base
	rb.Mode, rb.Reason, rb.Owner = config.ModeRollback, "checkout errors", "the on-call engineer's rollback"
	if o := run(out, rb); o.Status != deploy.RolledBack {
		return fmt.Errorf("blue-green rollback: %s", o.Message)
	}
	o := <-done
	fmt.Fprintf(out, "\n(meanwhile, the deploy that held the release noticed:)\n")
	for _, l := range strings.SplitAfter(deployLog.String(), "\n") {
		fmt.Fprint(out, "  ", l)
	}
	if o.Status != deploy.RolledBack {
		return fmt.Errorf("the deploy in its grace period did not notice the switch back: %s", o.Message)
	}
	return nil
}
