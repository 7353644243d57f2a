//go:build e2e

package dataplane

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func prom(t *testing.T, c *testcluster.Cluster) *analysis.Prometheus {
	t.Helper()
	p, err := analysis.NewPrometheus(c.PrometheusURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A pod of the example app is a real process: a port-forward to the pod reaches it, and it
// answers with the version of the image tag (or VERSION when the pod sets it).
func TestPodAnswersThroughPortForward(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	deps := c.Client.AppsV1().Deployments(ns)
	mustCreate(t, deps.Create, app("tagged", "1.4.2", 1, nil, nil))
	mustCreate(t, deps.Create, app("named", "1.4.2", 1, map[string]string{"VERSION": "custom-7"}, nil))
	for name, version := range map[string]string{"tagged": "1.4.2", "named": "custom-7"} {
		p := readyPods(t, c, ns, "app.kubernetes.io/name="+name, 1)[0]
		port := portForward(t, c, ns, p.Name, 8080)
		var body struct{ Message, Version string }
		if code := getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/hello", port), &body); code != 200 || body.Version != version {
			t.Errorf("%s: /api/hello through port-forward = %d %+v, want 200 version %s", name, code, body, version)
		}
	}
	// The process goes with its pod.
	p := readyPods(t, c, ns, "app.kubernetes.io/name=tagged", 1)[0]
	pid, ok := c.PodPID(ns, p.Name)
	if !ok {
		t.Fatal("the pod has no process")
	}
	if err := c.Client.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the deleted pod's process to stop", func(context.Context) (bool, string) {
		if err := syscall.Kill(pid, 0); err == nil {
			return false, fmt.Sprintf("process %d still running", pid)
		}
		return true, ""
	})
}

// Traffic flows to every Service that selects the app's pods, and Prometheus sees it per pod
// with the labels a kubernetes_sd setup gives; the error ratio follows FAIL_RATE.
func TestTrafficAndPrometheus(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	mustCreate(t, c.Client.AppsV1().Deployments(ns).Create, app("web", "2.0.0", 2, map[string]string{"FAIL_RATE": "0.5"},
		map[string]string{"shepherd.io/track": "stable"}))
	mustCreate(t, c.Client.CoreV1().Services(ns).Create, service("web", map[string]string{"app.kubernetes.io/name": "web"}))
	pods := readyPods(t, c, ns, "app.kubernetes.io/name=web", 2)
	p := prom(t, c)
	q := fmt.Sprintf(`sum by (namespace, pod, container, app_kubernetes_io_name, shepherd_io_track) (rate(http_requests_total{namespace=%q,handler="/api/hello"}[5s]))`, ns)
	var series []analysis.Series
	// 20 requests/s spread over 2 pods: about 10/s each, once a whole window has the traffic.
	eventually(t, time.Minute, "about 10 requests/s per pod in Prometheus", func(ctx context.Context) (bool, string) {
		var err error
		series, err = p.QueryVector(ctx, q)
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, s := range series {
			if s.Value >= 5 && s.Value <= 15 {
				n++
			}
		}
		return n == 2, fmt.Sprint(series)
	})
	names := map[string]bool{pods[0].Name: true, pods[1].Name: true}
	for _, s := range series {
		l := s.Labels
		if !names[l["pod"]] || l["namespace"] != ns || l["container"] != "example-app" || l["app_kubernetes_io_name"] != "web" || l["shepherd_io_track"] != "stable" {
			t.Errorf("series labels %v: want pod, namespace, container and the pod's labels", l)
		}
	}
	ratio := fmt.Sprintf(`sum(increase(http_requests_total{namespace=%q,handler="/api/hello",code=~"5.."}[10s])) / sum(increase(http_requests_total{namespace=%q,handler="/api/hello"}[10s]))`, ns, ns)
	eventually(t, time.Minute, "the error ratio to follow FAIL_RATE=0.5", func(ctx context.Context) (bool, string) {
		s, err := p.Query(ctx, ratio)
		if err != nil {
			return false, err.Error()
		}
		return !s.NoData && s.Value > 0.4 && s.Value < 0.6, fmt.Sprintf("%+v", s)
	})
}

// A Service's selector switch moves the traffic as kube-proxy would: within about a second of
// the endpoint controller's update, the old pods get nothing and the new ones everything.
func TestSelectorSwitchMovesTraffic(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	deps := c.Client.AppsV1().Deployments(ns)
	mustCreate(t, deps.Create, app("blue", "1.0.0", 1, nil, map[string]string{"color": "blue", "app": "shop"}))
	mustCreate(t, deps.Create, app("green", "2.0.0", 1, nil, map[string]string{"color": "green", "app": "shop"}))
	mustCreate(t, c.Client.CoreV1().Services(ns).Create, service("shop", map[string]string{"app": "shop", "color": "blue"}))
	blue := readyPods(t, c, ns, "color=blue", 1)[0]
	green := readyPods(t, c, ns, "color=green", 1)[0]
	count := func(pod corev1.Pod) float64 { return helloCount(t, c, ns, pod.Name) }
	eventually(t, 30*time.Second, "traffic on blue", func(context.Context) (bool, string) {
		n := count(blue)
		return n > 5, fmt.Sprint(n)
	})
	if n := count(green); n != 0 {
		t.Fatalf("green got %v requests before the switch", n)
	}
	patch := []byte(`{"spec":{"selector":{"app":"shop","color":"green"}}}`)
	switched := time.Now()
	if _, err := c.Client.CoreV1().Services(ns).Patch(context.Background(), "shop", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var moved time.Duration
	eventually(t, 30*time.Second, "traffic to move to green", func(context.Context) (bool, string) {
		b0, g0 := count(blue), count(green)
		time.Sleep(300 * time.Millisecond)
		b1, g1 := count(blue), count(green)
		if b1 == b0 && g1 > g0 {
			moved = time.Since(switched)
			return true, ""
		}
		return false, fmt.Sprintf("blue %v→%v green %v→%v", b0, b1, g0, g1)
	})
	t.Logf("traffic moved to the new selector %.1fs after the switch", moved.Seconds())
}

// helloCount is how many /api/hello requests the pod's process has answered: its own counter,
// read from its /metrics at the address the data plane runs it on (exact and immediate, where
// Prometheus would lag by a scrape).
func helloCount(t *testing.T, c *testcluster.Cluster, ns, pod string) float64 {
	t.Helper()
	addr, ok := c.PodAddress(ns, pod)
	if !ok {
		t.Fatalf("pod %s has no process", pod)
	}
	return scrapeHello(t, "http://"+addr+"/metrics")
}

// UNHEALTHY keeps a pod unready while its process runs; CRASH_ON_START gives a crash loop whose
// printed lines come back through `kubectl logs --previous` — as a kubelet would show them.
func TestUnhealthyAndCrashingPodsLookAsOnAKubelet(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	deps := c.Client.AppsV1().Deployments(ns)
	mustCreate(t, deps.Create, app("sick", "1.0.0", 1, map[string]string{"UNHEALTHY": "true"}, nil))
	mustCreate(t, deps.Create, app("crash", "1.0.0", 1, map[string]string{"CRASH_ON_START": "config: DATABASE_URL missing"}, nil))
	pod := func(name string) corev1.Pod {
		var p corev1.Pod
		eventually(t, 30*time.Second, "pod "+name, func(ctx context.Context) (bool, string) {
			l, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + name})
			if err != nil || len(l.Items) == 0 {
				return false, fmt.Sprint(err)
			}
			p = l.Items[0]
			return true, ""
		})
		return p
	}
	sick := pod("sick")
	eventually(t, 30*time.Second, "the sick pod's process to answer 503", func(context.Context) (bool, string) {
		addr, ok := c.PodAddress(ns, sick.Name)
		if !ok {
			return false, "no process"
		}
		var body map[string]string
		code, err := tryJSON("http://"+addr+"/api/health", &body)
		if err != nil { // the process is starting: not listening yet
			return false, err.Error()
		}
		return code == 503 && body["status"] == "unhealthy", fmt.Sprint(code, body)
	})
	time.Sleep(2 * time.Second) // several probe periods
	sick = pod("sick")
	if sick.Status.Phase != corev1.PodRunning || podReady(sick) || len(sick.Status.ContainerStatuses) == 0 || sick.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("UNHEALTHY pod: phase %s ready %v statuses %+v; want Running, container running, not Ready", sick.Status.Phase, podReady(sick), sick.Status.ContainerStatuses)
	}

	var crash corev1.Pod
	eventually(t, 30*time.Second, "a crash loop", func(context.Context) (bool, string) {
		crash = pod("crash")
		if len(crash.Status.ContainerStatuses) == 0 {
			return false, "no status"
		}
		cs := crash.Status.ContainerStatuses[0]
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" && cs.RestartCount >= 1 &&
			cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ExitCode == 1, fmt.Sprintf("%+v", cs)
	})
	if podReady(crash) {
		t.Error("a crash-looping pod is Ready")
	}
	eventually(t, 30*time.Second, "the crashed container's lines in logs --previous", func(ctx context.Context) (bool, string) {
		raw, err := c.Client.CoreV1().Pods(ns).GetLogs(crash.Name, &corev1.PodLogOptions{Container: "example-app", Previous: true}).DoRaw(ctx)
		return err == nil && strings.Contains(string(raw), "panic: config: DATABASE_URL missing"), fmt.Sprint(string(raw), err)
	})
}

func podReady(p corev1.Pod) bool {
	for _, cd := range p.Status.Conditions {
		if cd.Type == corev1.PodReady {
			return cd.Status == corev1.ConditionTrue
		}
	}
	return false
}
