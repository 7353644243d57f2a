//go:build e2e

package dataplane

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// canaryInputs are the inputs of a canary deploy of the example chart (2 replicas: 50% is one
// canary pod beside one stable pod) in ns at tag, judged on the data plane's Prometheus.
func canaryInputs(c *testcluster.Cluster, ns, tag string, extra ...string) map[string]string {
	in := map[string]string{
		"release": "web", "namespace": ns, "chart": filepath.Join(actionrun.Root(), "examples", "chart"), "image_tag": tag,
		"kubeconfig": string(c.Kubeconfig), "timeout": "60s", "strategy": "canary", "stages": "50,100", "interval": "8s",
		"set": "replicaCount=2", "prometheus_url": c.PrometheusURL,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

// stableInstalled installs 1.0.0 with strategy canary (a first install is a rolling one) and
// waits until its Service routes to it.
func stableInstalled(t *testing.T, c *testcluster.Cluster, ns string) {
	t.Helper()
	r := runAction(t, canaryInputs(c, ns, "1.0.0"))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("first install: exit %d, outputs %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	contains(t, "the first install's log", r.Stdout, "first install")
	tracksRouteTo(t, c, ns, "stable@1.0.0")
}

// trackRouting is where Service web's EndpointSlices send traffic: the tracks of its ready
// endpoints' pods with their image tags ("canary@2.0.0,stable@1.0.0"; "" when none).
func trackRouting(ctx context.Context, c *testcluster.Cluster, ns string) (string, error) {
	slices, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		return "", err
	}
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	track := map[string]string{}
	for _, p := range pods.Items {
		tr := p.Labels["shepherd.io/track"]
		if tr == "" {
			tr = "stable"
		}
		img := p.Spec.Containers[0].Image
		track[p.Name] = tr + "@" + img[strings.LastIndex(img, ":")+1:]
	}
	seen := map[string]bool{}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready && e.TargetRef != nil && track[e.TargetRef.Name] != "" {
				seen[track[e.TargetRef.Name]] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ","), nil
}

// tracksRouteTo waits until Service web routes only to want.
func tracksRouteTo(t *testing.T, c *testcluster.Cluster, ns, want string) {
	t.Helper()
	eventually(t, 30*time.Second, "web routing to "+want, func(ctx context.Context) (bool, string) {
		got, err := trackRouting(ctx, c, ns)
		if err != nil {
			return false, err.Error()
		}
		return got == want, "routes to " + got
	})
}

// watchTracks records every distinct routing of Service web until Stop.
func watchTracks(c *testcluster.Cluster, ns string) *routeLog {
	return watchRouting(func(ctx context.Context) (string, error) { return trackRouting(ctx, c, ns) })
}
