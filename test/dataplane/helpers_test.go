//go:build e2e

package dataplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

const appImage = "ghcr.io/shepherd-deploy/example-app:"

// app is a Deployment of the example app: name, version tag, replicas, extra env and labels.
func app(name, tag string, replicas int32, env map[string]string, labels map[string]string) *appsv1.Deployment {
	l := map[string]string{"app.kubernetes.io/name": name}
	for k, v := range labels {
		l[k] = v
	}
	var ev []corev1.EnvVar
	for k, v := range env {
		ev = append(ev, corev1.EnvVar{Name: k, Value: v})
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "example-app", Image: appImage + tag, Env: ev,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/api/health", Port: intstr.FromString("http")}}},
					Resources: corev1.ResourceRequirements{},
				}}},
			},
		},
	}
}

func service(name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}
}

func mustCreate[T any](t *testing.T, create func(context.Context, T, metav1.CreateOptions) (T, error), obj T) T {
	t.Helper()
	got, err := create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// eventually polls cond every 200ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last := ""
	for {
		ok, why := cond(ctx)
		if ok {
			return
		}
		last = why
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readyPods waits for n Ready pods selected by sel and returns them.
func readyPods(t *testing.T, c *testcluster.Cluster, ns, sel string, n int) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	eventually(t, time.Minute, fmt.Sprintf("%d ready pods %s", n, sel), func(ctx context.Context) (bool, string) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return false, err.Error()
		}
		out = out[:0]
		for _, p := range pods.Items {
			for _, cd := range p.Status.Conditions {
				if cd.Type == corev1.PodReady && cd.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					out = append(out, p)
				}
			}
		}
		return len(out) == n, fmt.Sprintf("%d of %d listed ready", len(out), len(pods.Items))
	})
	return out
}

// portForward forwards a local port to the pod's port through the API server, as
// `kubectl port-forward pod/x 8080` does, and returns the local port.
func portForward(t *testing.T, c *testcluster.Cluster, ns, pod string, port int) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	local, err := c.PortForward(ctx, ns, pod, port)
	if err != nil {
		t.Fatal(err)
	}
	return local
}

// scrapeHello sums http_requests_total{handler="/api/hello"} over codes in a /metrics page.
func scrapeHello(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	total := 0.0
	if f := families["http_requests_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "handler" && l.GetValue() == "/api/hello" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	code, err := tryJSON(url, v)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// tryJSON is getJSON for a server that may not listen yet: an error instead of a failed test.
func tryJSON(url string, v any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return resp.StatusCode, fmt.Errorf("%s: %v", url, err)
	}
	return resp.StatusCode, nil
}

// readyEndpoints waits until Service svc has at least n ready endpoints: a run returns once its
// pods are Ready, and the endpoint controller lists them a moment later, so a sampler started
// at once could count that moment against the run that follows.
func readyEndpoints(t *testing.T, c *testcluster.Cluster, ns, svc string, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d ready endpoints of %s", n, svc), func(ctx context.Context) (bool, string) {
		got, err := c.ReadyEndpoints(ctx, ns, svc)
		if err != nil {
			return false, err.Error()
		}
		return got >= n, fmt.Sprintf("%d ready", got)
	})
}
