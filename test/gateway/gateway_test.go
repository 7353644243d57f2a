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
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
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

// route creates (or replaces the rules of) HTTPRoute web, sending to Services a and b by
// weight, and waits until the gateway has taken that generation of it (its Accepted condition
// observed it).
func route(t *testing.T, c *testcluster.Cluster, ns string, wa, wb int64) {
	t.Helper()
	gen := setRoute(t, c, ns, wa, wb)
	r := c.Dynamic.Resource(testcluster.HTTPRouteGVR).Namespace(ns)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got, err := r.Get(context.Background(), "web", metav1.GetOptions{})
		if err == nil && accepted(got, gen) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the gateway did not accept generation %d of route web in 30s", gen)
}

// live changes the route's weights and waits until the gateway serves them, returning how long
// that took from the change.
func live(t *testing.T, c *testcluster.Cluster, ns string, wa, wb int64) time.Duration {
	t.Helper()
	start := time.Now()
	route(t, c, ns, wa, wb)
	if _, err := c.Gateway.WaitWeights(context.Background(), ns, "web", map[string]int64{"a": wa, "b": wb}); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// accepted says whether every parent of the route has accepted generation gen (or later).
func accepted(route *unstructured.Unstructured, gen int64) bool {
	parents, _, _ := unstructured.NestedSlice(route.Object, "status", "parents")
	for _, p := range parents {
		conds, _, _ := unstructured.NestedSlice(p.(map[string]any), "conditions")
		for _, x := range conds {
			m := x.(map[string]any)
			if g, _ := m["observedGeneration"].(int64); m["type"] == "Accepted" && m["status"] == "True" && g >= gen {
				return true
			}
		}
	}
	return false
}

func setRoute(t *testing.T, c *testcluster.Cluster, ns string, wa, wb int64) int64 {
	t.Helper()
	ctx := context.Background()
	spec := map[string]any{
		"parentRefs": []any{map[string]any{"name": c.Gateway.Name, "namespace": c.Gateway.Namespace}},
		"rules": []any{map[string]any{"backendRefs": []any{
			map[string]any{"name": "a", "port": int64(80), "weight": wa},
			map[string]any{"name": "b", "port": int64(80), "weight": wb}}}}}
	r := c.Dynamic.Resource(testcluster.HTTPRouteGVR).Namespace(ns)
	got, err := r.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "web", "namespace": ns}, "spec": spec}}
		made, err := r.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return made.GetGeneration()
	}
	got.Object["spec"] = spec
	upd, err := r.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return upd.GetGeneration()
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

// A weighted HTTPRoute splits the requests through the real gateway by its weights, not by the
// replica counts behind the Services (3 pods of 1.0.0, 1 of 2.0.0): 10% is 10%. Moving the
// weight to 0 stops the requests to that Service.
func TestGatewaySplitsByWeight(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	app(t, c, ns, "a", "1.0.0", 3)
	app(t, c, ns, "b", "2.0.0", 1)
	live(t, c, ns, 100, 0)
	settled(t, c, "1.0.0")
	for _, w := range []int64{10, 25, 50} {
		took := live(t, c, ns, 100-w, w)
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
	live(t, c, ns, 100, 0)
	for ask(t, c, 20)["2.0.0"] > 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("requests still reach 2.0.0 30s after its weight went to 0")
		}
	}
	t.Logf("weight 0: no request reached 2.0.0 %s after the route was changed", time.Since(start).Round(time.Millisecond))
	if got := ask(t, c, 500); got["1.0.0"] != 500 {
		t.Errorf("after weight 0: %v, want all 500 on 1.0.0", got)
	}
}
