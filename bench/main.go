// Command bench measures Shepherd against `helm upgrade --install --atomic --wait` on one local
// control plane (internal/testcluster), the way a GitHub runner runs both:
//
//   - bad-image and crashloop: an upgrade to a release kwok makes fail (ImagePullBackOff,
//     CrashLoopBackOff), timed from the start of the command until the cluster is back on the
//     good revision (the command returned and the Deployment runs 1.0.0 with every replica
//     available); plus Shepherd's detection latency, from the first new pod showing the failure
//     (seen by a watch of the bench's own) to Shepherd's "rollout failed" log line;
//   - healthy: -n upgrades to good tags with each tool, median time until the command returned
//     with the Deployment fully rolled out.
//
// It prints a table against the targets (failure ratio helm/shepherd ≥ 50×, detection ≤ 5s,
// healthy ratio shepherd/helm ≤ 1.05) and writes bench/out/results.json.
//
//	go run ./bench            # -helm-timeout 5m -n 5, about 12 minutes
//	go run ./bench -quick     # -helm-timeout 1m -n 3, a fast sanity run
//
// Helm's atomic runs only fail at their timeout (that is the point), so each takes about
// -helm-timeout. The helm CLI is built from the Helm module the repository pins and cached
// under the user cache dir (shepherd/bin/helm-<version>).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// options are the command-line flags.
type options struct {
	helmTimeout time.Duration // --timeout of Helm's atomic runs
	runs        int           // healthy upgrades per tool
	out         string        // results JSON path
	verbose     bool          // echo every command's output
	only        string        // run only these scenarios (comma-separated names; "" = all)
}

func main() {
	var o options
	var quick bool
	flag.DurationVar(&o.helmTimeout, "helm-timeout", 5*time.Minute, "--timeout of Helm's --atomic runs (each failure run takes about this long)")
	flag.IntVar(&o.runs, "n", 5, "healthy upgrades per tool (the median is reported)")
	flag.BoolVar(&quick, "quick", false, "fast sanity run: -helm-timeout 1m -n 3 (flags given explicitly win)")
	flag.StringVar(&o.out, "out", "", "results JSON file (default <repo>/bench/out/results.json)")
	flag.BoolVar(&o.verbose, "v", false, "echo the output of every shepherd and helm run")
	flag.StringVar(&o.only, "only", "", "run only these scenarios, comma-separated: bad-image, crashloop, healthy, blue-green, canary, busy, abort")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if quick && !set["helm-timeout"] {
		o.helmTimeout = time.Minute
	}
	if quick && !set["n"] {
		o.runs = 3
	}
	if o.runs < 1 || o.helmTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -n must be at least 1 and -helm-timeout positive")
		os.Exit(2)
	}
	if o.wants("abort") && !testcluster.InNetns() { // the gateway routes to pods at their IPs
		os.Exit(testcluster.ReexecInNetns())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench is one benchmark run: the built tools and the cluster they run against.
type bench struct {
	o              options
	root           string // repository root
	chart          string // absolute path of examples/chart
	work           string // scratch directory, removed at the end
	logs           string // bench/out/logs: one file per command run
	shepherd, helm string // binaries
	helmVersion    string
	c              *testcluster.Cluster
	kubeconfigPath string // the cluster's kubeconfig, as a file (for helm)
}

// run builds the tools, starts the cluster, runs every scenario and reports.
func run(ctx context.Context, o options) error {
	started := time.Now()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	b := &bench{o: o, root: root, chart: filepath.Join(root, "examples", "chart"), logs: filepath.Join(root, "bench", "out", "logs")}
	if b.o.out == "" {
		b.o.out = filepath.Join(root, "bench", "out", "results.json")
	}
	_ = os.RemoveAll(b.logs) // only this run's logs
	if err := os.MkdirAll(b.logs, 0o755); err != nil {
		return err
	}
	if b.work, err = os.MkdirTemp("", "shepherd-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.work)

	if b.shepherd, err = buildShepherd(ctx, root, b.work); err != nil {
		return err
	}
	if b.helm, b.helmVersion, err = ensureHelm(ctx, root); err != nil {
		return err
	}
	bins, err := testcluster.EnsureBinaries(ctx, testcluster.BuildOptions{Progress: os.Stderr})
	if err != nil {
		return err
	}
	// The data plane: blue-green's smoke tests ask real pods of the example app. Enough fake
	// nodes for the busy scenario's unrelated pods (110 a node).
	nodes := 1
	if o.wants("busy") {
		nodes = busyNodes
	}
	if b.c, err = testcluster.Start(ctx, testcluster.Options{Binaries: bins, Progress: os.Stderr, DataPlane: true, Nodes: nodes,
		PodNetwork: testcluster.InNetns(), Gateway: testcluster.InNetns()}); err != nil {
		return err
	}
	defer b.c.Stop()
	progress("cluster usable in %s", b.c.StartupTime.Round(time.Millisecond))
	b.kubeconfigPath = filepath.Join(b.work, "kubeconfig")
	if err := os.WriteFile(b.kubeconfigPath, b.c.Kubeconfig, 0o600); err != nil {
		return err
	}

	res := results{Started: started, HelmTimeout: o.helmTimeout.String(), HealthyRuns: o.runs,
		HelmVersion: b.helmVersion, ShepherdTimeout: shepherdTimeout,
		ClusterStartupSeconds: secs(b.c.StartupTime), Targets: defaultTargets()}
	if o.wants("bad-image") {
		res.Scenarios = append(res.Scenarios, b.failure(ctx, "bad-image", "1.1.0-bad-image", "ImagePullBackOff"))
	}
	if o.wants("crashloop") && ctx.Err() == nil {
		res.Scenarios = append(res.Scenarios, b.failure(ctx, "crashloop", "1.1.0-crashloop", "CrashLoopBackOff"))
	}
	if o.wants("healthy") && ctx.Err() == nil {
		res.Scenarios = append(res.Scenarios, b.healthy(ctx))
	}
	if o.wants("blue-green") && ctx.Err() == nil {
		res.BlueGreen = b.blueGreenScenario(ctx)
	}
	if o.wants("canary") && ctx.Err() == nil {
		res.Canary = b.canaryScenario(ctx)
	}
	if o.wants("busy") && ctx.Err() == nil {
		res.Busy = b.busyScenario(ctx)
	}
	if o.wants("abort") && ctx.Err() == nil {
		res.Abort = b.abortScenario(ctx)
	}
	res.TotalSeconds = secs(time.Since(started))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.judge()
	fmt.Println()
	res.printTable(os.Stdout)
	if err := res.write(b.o.out); err != nil {
		return err
	}
	fmt.Printf("results: %s\nlogs:    %s\n", b.o.out, b.logs)
	var failed []string
	for _, s := range res.Scenarios {
		if len(s.Errors) > 0 {
			failed = append(failed, s.Name)
		}
	}
	if res.BlueGreen != nil && len(res.BlueGreen.Errors) > 0 {
		failed = append(failed, "blue-green")
	}
	if res.Canary != nil && len(res.Canary.Errors) > 0 {
		failed = append(failed, "canary")
	}
	if res.Busy != nil && len(res.Busy.Errors) > 0 {
		failed = append(failed, "busy")
	}
	if res.Abort != nil && len(res.Abort.Errors) > 0 {
		failed = append(failed, "abort")
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios with errors: %v (see the logs)", failed)
	}
	return nil
}

// wants reports whether scenario name is to run (-only).
func (o options) wants(name string) bool {
	if o.only == "" {
		return true
	}
	for _, n := range strings.Split(o.only, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// progress prints one progress line to stderr, with the wall-clock time.
func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// repoRoot finds the module root by walking up from the working directory to the go.mod of
// this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && containsModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the bench from inside the shepherd repository (no go.mod of " + modulePath + " found)")
		}
		dir = parent
	}
}
