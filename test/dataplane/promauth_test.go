//go:build e2e

package dataplane

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
)

// A canary judged on a Prometheus behind a gateway that wants a bearer token and a tenant
// header (as Grafana Cloud, Mimir or a Thanos gateway do), in front of the data plane's
// Prometheus: with prometheus_token and prometheus_headers it is judged on its metrics and
// promoted, the token never in the log; without the tenant header the pre-flight check
// refuses before anything is written.
func TestCanaryPrometheusBehindAGateway(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	up, err := url.Parse(c.PrometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(up)
	gw := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer glc_s3cr3t-token" || r.Header.Get("X-Scope-OrgID") != "tenant-1" {
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gw.Serve(ln) }()
	t.Cleanup(func() { gw.Close() })
	gateway := "http://" + ln.Addr().String()

	r := runAction(t, canaryInputs(c, ns, "2.0.0", "prometheus_url", gateway, "prometheus_token", "glc_s3cr3t-token",
		"prometheus_headers", "X-Scope-OrgID: tenant-1"))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	contains(t, "the log", r.Stdout, "judging pod health, error rate")
	if strings.Contains(actionrun.Unmasked(r.Stdout)+r.Summary, "glc_s3cr3t-token") {
		t.Errorf("the token shows in the log or summary")
	}
	before := workloadState(t, c, ns)
	r = runAction(t, canaryInputs(c, ns, "3.0.0", "prometheus_url", gateway, "prometheus_token", "glc_s3cr3t-token"))
	if r.Exit == 0 {
		t.Fatalf("no tenant header, yet the canary ran:\n%s", r.Stdout)
	}
	contains(t, "the refusal", r.Stdout, "prometheus_url")
	contains(t, "the refusal", r.Stdout, "401")
	if after := workloadState(t, c, ns); after != before {
		t.Errorf("the refused run wrote:\n%s\n%s", before, after)
	}
}

// A Prometheus inside the cluster, which a hosted runner cannot resolve: prometheus_service
// reaches it through the API server with the run's credentials (a port-forward to the pod
// behind its Service; here the data plane's Prometheus stands behind a Service of the local
// cluster). The canary is judged on its metrics and promoted; a Service with no Ready pod is
// refused in pre-flight, naming the input.
func TestCanaryPrometheusInsideTheCluster(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	mon := c.NewNamespace(t)
	ctx := context.Background()
	up, err := url.Parse(c.PrometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	hostPort, _ := strconv.Atoi(up.Port())
	if err := c.ForwardPorts(ctx, mon, 9090, up.Hostname(), int32(hostPort)); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "prometheus"}
	mustCreate(t, c.Client.CoreV1().Pods(mon).Create, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-0", Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "prometheus", Image: "quay.io/prometheus/prometheus:v2.42.0",
			Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090}}}}}})
	mustCreate(t, c.Client.CoreV1().Services(mon).Create, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "prometheus"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 9090, TargetPort: intstr.FromString("web")}}}})
	readyPods(t, c, mon, "app=prometheus", 1)

	r := runAction(t, canaryInputs(c, ns, "2.0.0", "prometheus_url", "", "prometheus_service", mon+"/prometheus:9090"))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	contains(t, "the log", r.Stdout, "judging pod health, error rate")
	contains(t, "the summary", r.Summary, "| 1 | 50% |")

	before := workloadState(t, c, ns)
	r = runAction(t, canaryInputs(c, ns, "3.0.0", "prometheus_url", "", "prometheus_service", mon+"/absent:9090"))
	if r.Exit == 0 {
		t.Fatalf("a Service that does not exist, yet the canary ran:\n%s", r.Stdout)
	}
	contains(t, "the refusal", r.Stdout, "prometheus_service: no Service absent")
	if after := workloadState(t, c, ns); after != before {
		t.Errorf("the refused run wrote:\n%s\n%s", before, after)
	}
}
