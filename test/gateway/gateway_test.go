//go:build e2e

// Package gateway proves the local cluster's real Gateway API implementation: the cluster runs
// in a network namespace of its own where pods answer at their IPs, and Traefik, built from the
// Go module proxy, routes HTTPRoutes to them by their Services' EndpointSlices.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

func TestMain(m *testing.M) { testcluster.MainWithGateway(m) }

// app creates Deployment and Service name running the example app's version with n replicas,
// and waits until the Service has n ready endpoints.
func app(t *testing.T, c *testcluster.Cluster, ns, name, version string, n int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "ghcr.io/shepherd-deploy/example-app:" + version, Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/api/health", Port: intstr.FromInt32(8080)}}},
		}}}}}}
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := c.ReadyEndpoints(ctx, ns, name)
		if err == nil && got == int(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s: %d ready endpoints, want %d (%v)", name, got, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apply creates or replaces HTTPRoute web's spec and waits until the gateway accepts that
// generation (route.Accepted: Accepted and ResolvedRefs for it on every parent).
func apply(t *testing.T, c *testcluster.Cluster, ns string, spec map[string]any) {
	t.Helper()
	if rejected := applyRoute(t, c, ns, spec); rejected != "" {
		t.Fatalf("the gateway rejected route web: %s", rejected)
	}
}

// applyRoute is apply, returning the gateway's rejection instead of failing on it.
func applyRoute(t *testing.T, c *testcluster.Cluster, ns string, spec map[string]any) (rejected string) {
	t.Helper()
	ctx := context.Background()
	r := c.Dynamic.Resource(testcluster.HTTPRouteGVR).Namespace(ns)
	var gen int64
	if got, err := r.Get(ctx, "web", metav1.GetOptions{}); err == nil {
		got.Object["spec"] = spec
		upd, err := r.Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		gen = upd.GetGeneration()
	} else {
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "web", "namespace": ns}, "spec": spec}}
		made, err := r.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		gen = made.GetGeneration()
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := r.Get(ctx, "web", metav1.GetOptions{})
		if err == nil {
			ok, rejected := route.Accepted(got.Object, gen)
			if ok || rejected != "" {
				return rejected
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the gateway did not accept generation %d of route web in 30s", gen)
	return ""
}

// live applies spec and waits until the gateway serves these weights per Service, returning
// how long that took from the change.
func live(t *testing.T, c *testcluster.Cluster, ns string, spec map[string]any, weights map[string]int64) time.Duration {
	t.Helper()
	start := time.Now()
	apply(t, c, ns, spec)
	if _, err := c.Gateway.WaitWeights(context.Background(), ns, "web", weights); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// ask sends n requests through the gateway for the namespace's route and counts the versions
// that answered.
func ask(t *testing.T, c *testcluster.Cluster, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < n; i++ {
		resp, err := client.Get(c.Gateway.URL + "/api/hello")
		if err != nil {
			out["error"]++
			continue
		}
		var body struct{ Version string }
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
			out[fmt.Sprintf("HTTP %d", resp.StatusCode)]++
			continue
		}
		out[body.Version]++
	}
	return out
}

// settled waits until a request through the gateway reaches version (the route is served).
func settled(t *testing.T, c *testcluster.Cluster, version string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		if ask(t, c, 1)[version] == 1 {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no request reached %s through the gateway in 30s", version)
	return 0
}

// A route the chart owns sends to its Service web (the stable pods). Split as a canary's
// router splits it (route.Split: web-stable and web-canary, weighted), the real
// gateway sends the canary its weight of the requests, not its share of the pods (3 pods of
// 1.0.0, 1 of 2.0.0): 10% is 10%. The route as the chart renders it sends nothing to the
// canary again.
func TestGatewaySplitsByWeight(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	app(t, c, ns, "web", "1.0.0", 3)
	app(t, c, ns, "web-stable", "1.0.0", 3)
	app(t, c, ns, "web-canary", "2.0.0", 1)
	chart := map[string]any{
		"parentRefs": []any{map[string]any{"name": c.Gateway.Name, "namespace": c.Gateway.Namespace}},
		"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "web", "port": int64(80)}}}}}
	live(t, c, ns, chart, map[string]int64{"web": 1})
	settled(t, c, "1.0.0")
	for _, w := range []int{10, 25, 50} {
		split, err := route.Split(chart, "web", "web-stable", "web-canary", w)
		if err != nil {
			t.Fatal(err)
		}
		took := live(t, c, ns, split, map[string]int64{"web-stable": int64(100 - w), "web-canary": int64(w)})
		t.Logf("weight %d%%: live %s after the route was changed", w, took.Round(time.Millisecond))
		const n = 2000
		got := ask(t, c, n)
		share := 100 * float64(got["2.0.0"]) / n
		t.Logf("weight %d%%: %.1f%% of %d requests reached 2.0.0 (%v)", w, share, n, got)
		if math.Abs(share-float64(w)) > 3 || got["1.0.0"]+got["2.0.0"] != n {
			t.Errorf("weight %d%%: %.1f%% reached 2.0.0, want within 3 points (%v)", w, share, got)
		}
	}
	start := time.Now()
	live(t, c, ns, chart, map[string]int64{"web": 1})
	for ask(t, c, 20)["2.0.0"] > 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("requests still reach 2.0.0 30s after the route went back to the chart's")
		}
	}
	t.Logf("the chart's route again: no request reached 2.0.0 %s after the route was changed", time.Since(start).Round(time.Millisecond))
	if got := ask(t, c, 500); got["1.0.0"] != 500 {
		t.Errorf("after the chart's route: %v, want all 500 on 1.0.0", got)
	}
}

// A route the gateway cannot serve — its canary Service does not exist — is read as rejected,
// with the gateway's reason: the router's stage fails with it instead of waiting.
func TestGatewayRejectionIsRead(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	app(t, c, ns, "web-stable", "1.0.0", 1)
	spec := map[string]any{
		"parentRefs": []any{map[string]any{"name": c.Gateway.Name, "namespace": c.Gateway.Namespace}},
		"rules":      []any{map[string]any{"backendRefs": []any{map[string]any{"name": "web", "port": int64(80)}}}}}
	split, err := route.Split(spec, "web", "web-stable", "web-canary", 10)
	if err != nil {
		t.Fatal(err)
	}
	rejected := applyRoute(t, c, ns, split)
	t.Logf("rejected: %s", rejected)
	if !strings.Contains(rejected, "ResolvedRefs") {
		t.Errorf("a route to a Service that does not exist: rejection %q, want the gateway's ResolvedRefs condition", rejected)
	}
}
