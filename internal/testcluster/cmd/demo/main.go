// Command demo is `make demo`: a local deploy end to end on a throw-away local control plane.
// It lives outside the shipped binary, which carries no test cluster.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runDemo(ctx, os.Stdout)
	stop()
	os.Exit(code)
}

// runDemo starts a throw-away local control plane, deploys examples/chart at 1.0.0, upgrades it
// to 1.1.0, then to a build that crash-loops — which Shepherd notices, diagnoses (with the
// crashed container's last log lines) and rolls back — and prints what a user would see.
func runDemo(ctx context.Context, out io.Writer) int {
	chart, err := findChart()
	if err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	fmt.Fprintln(out, "demo: starting a local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)…")
	bins, err := testcluster.EnsureBinaries(ctx, testcluster.BuildOptions{Progress: out})
	if err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	// The data plane: the example app's pods really serve (the blue-green smoke tests ask them).
	c, err := testcluster.Start(ctx, testcluster.Options{Binaries: bins, DataPlane: true})
	if err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	defer c.Stop()
	fmt.Fprintf(out, "demo: cluster up in %s at %s\n", c.StartupTime.Round(time.Millisecond), c.APIServerURL)
	const ns = "demo"
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	// What the crash-looping build printed before it died (kwok serves it as the previous logs).
	if err := c.SetContainerLogs(ctx, ns, []string{"example-app 1.2.0 starting on :8080"}, []string{
		"example-app 1.2.0 starting on :8080",
		"loading configuration from /etc/example-app/config.yaml",
		"connecting to database at postgres://db:5432/app",
		"panic: config: required key DATABASE_POOL_SIZE missing",
		"goroutine 1 [running]:",
		"main.main()",
	}); err != nil {
		fmt.Fprintln(out, "demo:", err)
		return 1
	}
	steps := []struct{ title, tag string }{
		{"1/7 rolling: first install of example-app 1.0.0", "1.0.0"},
		{"2/7 rolling: upgrade to 1.1.0 (a good release)", "1.1.0"},
		{"3/7 rolling: upgrade to 1.2.0-crashloop (a bad release: it crashes on start)", "1.2.0-crashloop"},
	}
	failures := 0
	for _, s := range steps {
		fmt.Fprintf(out, "\n════ %s ════\n", s.title)
		cfg := config.Default()
		cfg.Release, cfg.Namespace, cfg.Chart, cfg.ImageTag = "example-app", ns, relative(chart), s.tag
		cfg.Kubeconfig, cfg.Timeout = c.Kubeconfig, 2*time.Minute
		if err := cfg.Validate(); err != nil {
			fmt.Fprintln(out, "demo:", err)
			return 1
		}
		rep := &report.Text{W: out}
		o := deploy.Execute(ctx, cfg, deploy.Edge{Reporter: rep})
		_ = rep.Finish(ctx, o)
		if o.ExitCode() != 0 {
			failures++
		}
		if ctx.Err() != nil {
			return 1
		}
	}
	if failures != 1 {
		fmt.Fprintf(out, "\ndemo: expected exactly the third deploy to fail, %d failed\n", failures)
		return 1
	}
	if err := blueGreen(ctx, out, c, relative(chart)); err != nil {
		fmt.Fprintln(out, "\ndemo:", err)
		return 1
	}
	if err := canary(ctx, out, c, relative(chart)); err != nil {
		fmt.Fprintln(out, "\ndemo:", err)
		return 1
	}
	fmt.Fprintln(out, "\ndemo: done — the bad release was caught, explained and rolled back; the blue-green release switched and switched back; the erroring canary was stopped on its error rate; the cluster is stopped.")
	return 0
}

// newNamespace creates namespace ns for one of the demo's stories.
func newNamespace(ctx context.Context, c *testcluster.Cluster, ns string) error {
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	return err
}

// runner runs a config as the CLI would, printing its report to w.
func runner(ctx context.Context) func(w io.Writer, cfg config.Config) deploy.Outcome {
	return func(w io.Writer, cfg config.Config) deploy.Outcome {
		if err := cfg.Validate(); err != nil {
			return outcome.Fail(cfg, err.Error())
		}
		rep := &report.Text{W: w}
		o := deploy.Execute(ctx, cfg, deploy.Edge{Reporter: rep})
		_ = rep.Finish(ctx, o)
		return o
	}
}

// findChart finds examples/chart from the working directory up (make demo runs in the checkout).
func findChart() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "examples", "chart")
		if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("examples/chart not found: run the demo from a Shepherd checkout (make demo)")
		}
	}
}

// relative shortens p to a path relative to the working directory when it can.
func relative(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil {
		return r
	}
	return p
}
