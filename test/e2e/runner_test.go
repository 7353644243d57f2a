//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
)

// shepherdBinary builds the shepherd binary once per test run, as the Dockerfile does.
func shepherdBinary(t *testing.T) string { t.Helper(); return actionrun.Binary(t) }

func repoRoot() string { return filepath.Join("..", "..") }

func exampleChart() string {
	p, _ := filepath.Abs(filepath.Join(repoRoot(), "examples", "chart"))
	return p
}

// actionRun is what a runner sees of one step.
type actionRun = actionrun.Result

// runAction runs the binary exactly as a GitHub runner runs a container action step: inputs as
// INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, GITHUB_ACTIONS=true.
func runAction(t *testing.T, inputs map[string]string, env ...string) actionRun {
	t.Helper()
	return actionrun.Run(t, context.Background(), inputs, env...)
}

// runActionCmd runs cmd (the binary, or a wrapper that execs it) as a runner runs a container
// action step.
func runActionCmd(t *testing.T, cmd *exec.Cmd, inputs map[string]string, env ...string) actionRun {
	t.Helper()
	return actionrun.RunCmd(t, cmd, inputs, env...)
}

// deployInputs are the inputs of a deploy of the example chart in ns at tag.
func deployInputs(c *testcluster.Cluster, ns, tag string, extra ...string) map[string]string {
	in := map[string]string{
		"release": "web", "namespace": ns, "chart": exampleChart(), "image_tag": tag,
		"kubeconfig": string(c.Kubeconfig), "timeout": "60s",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

// helmFor returns a Helm action configuration for ns on the test cluster.
func helmFor(t *testing.T, c *testcluster.Cluster, ns string) *action.Configuration {
	t.Helper()
	cl, err := kube.New(c.Kubeconfig, "", ns)
	if err != nil {
		t.Fatal(err)
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(cl.Getter, ns, "secret", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// helmUpgrade upgrades the release to tag with the Helm SDK directly, behind Shepherd's back,
// as someone running `helm upgrade` would (wait > 0: `--wait --timeout wait`).
func helmUpgrade(t *testing.T, c *testcluster.Cluster, ns, tag string, wait time.Duration) error {
	t.Helper()
	ch, err := loader.Load(exampleChart())
	if err != nil {
		t.Fatal(err)
	}
	up := action.NewUpgrade(helmFor(t, c, ns))
	up.Namespace, up.Wait, up.Timeout = ns, wait > 0, wait
	_, err = up.Run("web", ch, map[string]any{"image": map[string]any{"tag": tag}})
	return err
}

// history returns "version:status" of every revision of the release, oldest first.
func history(t *testing.T, c *testcluster.Cluster, ns, name string) []string {
	t.Helper()
	rels, err := action.NewHistory(helmFor(t, c, ns)).Run(name)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rels {
		out = append(out, statusOf(r))
	}
	return out
}

func statusOf(r *helmrelease.Release) string {
	return strings.Join([]string{itoa(r.Version), string(r.Info.Status)}, ":")
}

func itoa(i int) string { return strconv.Itoa(i) }

// serving asserts the release's Deployment runs image tag with every replica ready and
// nothing else left (no old or new pods of another template).
func serving(t *testing.T, c *testcluster.Cluster, ns, tag string) {
	t.Helper()
	eventually(t, 30*time.Second, "web serving "+tag, func(ctx context.Context) (bool, string, error) {
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		img := d.Spec.Template.Spec.Containers[0].Image
		ok, why, _ := available(c.Client, ns, "web")(ctx)
		return ok && strings.HasSuffix(img, ":"+tag), img + " " + why, nil
	})
}

// cliRun is what a person sees of one CLI command.
type cliRun struct {
	exit int
	out  string // stdout and stderr, interleaved
}

// runCLI runs the binary as a person would on a terminal-less shell: no GITHUB_ACTIONS, the
// cluster's kubeconfig in KUBECONFIG (env may add or override variables).
func runCLI(t *testing.T, c *testcluster.Cluster, args ...string) cliRun {
	t.Helper()
	return runCLIEnv(t, []string{"KUBECONFIG=" + c.KubeconfigPath}, args...)
}

func runCLIEnv(t *testing.T, env []string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(shepherdBinary(t), args...)
	cmd.Dir = repoRoot()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := cliRun{out: out.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run shepherd %v: %v", args, err)
	}
	if testing.Verbose() {
		t.Logf("shepherd %v: exit %d\n%s", args, r.exit, r.out)
	}
	return r
}
