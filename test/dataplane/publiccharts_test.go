//go:build e2e

package dataplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// Charts nobody here wrote, with the options production turns on: podinfo's chart (vendored
// at 6.14.1, test/charts) and `helm create`'s scaffold (generated through the Helm SDK), each
// with its HorizontalPodAutoscaler on and replicaCount / minReplicas 3. The HPA owns the
// replica count (the charts leave spec.replicas out); with no metrics server the local
// cluster's HPA controller holds its target at minReplicas. The example app's image makes the
// pods real processes; everything else is the chart's own.

// publicChart is a chart to deploy: its path, the release's Service and Deployment name, the
// values that turn its autoscaler on, and how it sets the image tag.
type publicChart struct {
	name, path, object, tagKey string
	set                        string
}

func podinfo() publicChart {
	return publicChart{name: "podinfo", path: filepath.Join(actionrun.Root(), "test", "charts", "podinfo"), object: "web-podinfo",
		tagKey: "image.tag", set: "replicaCount=3\nhpa.enabled=true\nhpa.cpu=80\nimage.repository=ghcr.io/shepherd-deploy/example-app"}
}

// scaffold generates `helm create`'s chart in a temporary directory.
func scaffold(t *testing.T) publicChart {
	t.Helper()
	dir := t.TempDir()
	path, err := chartutil.Create("scaffold", dir)
	if err != nil {
		t.Fatalf("helm create (chartutil.Create): %v", err)
	}
	if _, err := os.Stat(filepath.Join(path, "templates", "hpa.yaml")); err != nil {
		t.Fatalf("the scaffold has no HPA template: %v", err)
	}
	return publicChart{name: "scaffold", path: path, object: "web-scaffold", tagKey: "image.tag",
		set: "autoscaling.enabled=true\nautoscaling.minReplicas=3\nautoscaling.maxReplicas=6\nimage.repository=ghcr.io/shepherd-deploy/example-app\n" +
			"service.port=8080\nlivenessProbe.httpGet.path=/api/health\nreadinessProbe.httpGet.path=/api/health"}
}

func (p publicChart) inputs(c *testcluster.Cluster, ns, strategy, tag string, extra ...string) map[string]string {
	in := map[string]string{"release": "web", "namespace": ns, "chart": p.path, "image_tag": tag, "image_tag_key": p.tagKey,
		"kubeconfig": string(c.Kubeconfig), "timeout": "60s", "strategy": strategy, "set": p.set, "grace_period": "2s"}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

// hpaTargetsLive requires the chart's HPA to scale a Deployment that exists, at want replicas.
func hpaTargetsLive(t *testing.T, c *testcluster.Cluster, ns, hpa, wantTarget string, want int32) {
	t.Helper()
	eventually(t, 45*time.Second, "the HPA scaling "+wantTarget, func(ctx context.Context) (bool, string) {
		h, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, hpa, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		target := h.Spec.ScaleTargetRef.Name
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, target, metav1.GetOptions{})
		if err != nil {
			return false, "the HPA targets " + target + ": " + err.Error()
		}
		return target == wantTarget && d.Status.ReadyReplicas == want && h.Status.CurrentReplicas == want,
			fmt.Sprintf("targets %s, %d ready, the HPA at %d", target, d.Status.ReadyReplicas, h.Status.CurrentReplicas)
	})
}

// Blue-green on both charts with their HPA on: the new colour starts at the 3 the HPA holds
// (not the 1 a Deployment without replicas gets), the HPA scales the serving colour and moves
// with the switch, and a bad image is refused with the Service at 3 ready endpoints throughout.
func TestPublicChartsBlueGreenWithHPA(t *testing.T) {
	t.Parallel()
	onPublicCharts(t, func(t *testing.T, p publicChart, c *testcluster.Cluster, ns string) {
		r := runAction(t, p.inputs(c, ns, "blue-green", "1.0.0"))
		if r.Exit != 0 || r.Outputs["active_color"] != "blue" {
			t.Fatalf("first install: exit %d, outputs %v\n%s", r.Exit, r.Outputs, r.Stdout)
		}
		hpaTargetsLive(t, c, ns, p.object, p.object+"-blue", 3)
		readyEndpoints(t, c, ns, p.object, 3)
		s := c.SampleEndpoints(ns, p.object)
		r = runAction(t, p.inputs(c, ns, "blue-green", "2.0.0"))
		if r.Exit != 0 || r.Outputs["active_color"] != "green" {
			t.Fatalf("2.0.0: exit %d, outputs %v\n%s", r.Exit, r.Outputs, r.Stdout)
		}
		hpaTargetsLive(t, c, ns, p.object, p.object+"-green", 3)
		bad := runAction(t, p.inputs(c, ns, "blue-green", "2.1.0-crashloop"))
		wantOut(t, bad, "status", "rolled-back")
		atLeast(t, p.name+" blue-green, a good and a bad version", s.Stop(), 3)
		hpaTargetsLive(t, c, ns, p.object, p.object+"-green", 3)
	})
}

// onPublicCharts runs f on each public chart, in parallel, each in a namespace of its own.
func onPublicCharts(t *testing.T, f func(t *testing.T, p publicChart, c *testcluster.Cluster, ns string)) {
	for _, p := range []publicChart{podinfo(), scaffold(t)} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			c := testcluster.Shared(t)
			f(t, p, c, c.NewNamespace(t))
		})
	}
}

// Rolling on both charts with their HPA on: the HPA keeps its target and its count, a bad image
// is rolled back, and the Service keeps all 3 — podinfo's own Deployment allows maxUnavailable
// 1, which keep_capacity (on by default) turns into 0.
func TestPublicChartsRollingWithHPA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p   publicChart
		min int
	}{{podinfo(), 3}, {scaffold(t), 3}} {
		t.Run(tc.p.name, func(t *testing.T) {
			t.Parallel()
			p := tc.p
			c := testcluster.Shared(t)
			ns := c.NewNamespace(t)
			if r := runAction(t, p.inputs(c, ns, "rolling", "1.0.0")); r.Exit != 0 {
				t.Fatalf("first install: exit %d\n%s", r.Exit, r.Stdout)
			}
			hpaTargetsLive(t, c, ns, p.object, p.object, 3)
			readyEndpoints(t, c, ns, p.object, 3)
			s := c.SampleEndpoints(ns, p.object)
			if r := runAction(t, p.inputs(c, ns, "rolling", "2.0.0")); r.Exit != 0 {
				t.Fatalf("2.0.0: exit %d\n%s", r.Exit, r.Stdout)
			}
			bad := runAction(t, p.inputs(c, ns, "rolling", "2.1.0-crashloop"))
			wantOut(t, bad, "status", "rolled-back")
			atLeast(t, p.name+" rolling, a good and a bad version", s.Stop(), tc.min)
			hpaTargetsLive(t, c, ns, p.object, p.object, 3)
		})
	}
}

// Canary on both charts with their HPA on: the stages are planned from the 3 the HPA holds, the
// promotion leaves the stable track at 3 with its HPA scaling it, and a bad image is aborted —
// the Service at 3 ready endpoints or more throughout.
func TestPublicChartsCanaryWithHPA(t *testing.T) {
	t.Parallel()
	onPublicCharts(t, func(t *testing.T, p publicChart, c *testcluster.Cluster, ns string) {
		canary := func(tag string) actionrun.Result {
			return runAction(t, p.inputs(c, ns, "canary", tag, "stages", "50,100", "interval", "4s", "prometheus_url", ""))
		}
		if r := canary("1.0.0"); r.Exit != 0 {
			t.Fatalf("first install: exit %d\n%s", r.Exit, r.Stdout)
		}
		hpaTargetsLive(t, c, ns, p.object, p.object, 3)
		readyEndpoints(t, c, ns, p.object, 3)
		s := c.SampleEndpoints(ns, p.object)
		r := canary("2.0.0")
		if r.Exit != 0 {
			t.Fatalf("2.0.0: exit %d\n%s", r.Exit, r.Stdout)
		}
		contains(t, "the stage table", r.Summary, "| 1 | 50% |")
		contains(t, "the log", r.Stdout, "(3 planned)")
		hpaTargetsLive(t, c, ns, p.object, p.object, 3)
		bad := canary("2.1.0-crashloop")
		wantOut(t, bad, "status", "rolled-back")
		atLeast(t, p.name+" canary, a good and a bad version", s.Stop(), 3)
		hpaTargetsLive(t, c, ns, p.object, p.object, 3)
		if n := replicas(t, c, ns, p.object+"-canary"); n != 0 {
			t.Errorf("the canary runs %d replicas after the abort, want 0", n)
		}
		// The stages held the HPA at each stage's count; the chart's bounds are back.
		h, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), p.object, metav1.GetOptions{})
		if err != nil || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 3 {
			t.Errorf("the HPA after the canaries: %v, minReplicas %v, want 3", err, h.Spec.MinReplicas)
		}
	})
}
