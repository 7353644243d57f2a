//go:build e2e

package dataplane

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
)

// bgInputs are the inputs of a blue-green deploy of the example chart (2 replicas) in ns at tag.
func bgInputs(c *testcluster.Cluster, ns, tag string, extra ...string) map[string]string {
	in := map[string]string{
		"release": "web", "namespace": ns, "chart": filepath.Join(actionrun.Root(), "examples", "chart"), "image_tag": tag,
		"kubeconfig": string(c.Kubeconfig), "timeout": "60s", "strategy": "blue-green", "grace_period": "2s",
		"set": "replicaCount=2",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

func runAction(t *testing.T, inputs map[string]string, env ...string) actionrun.Result {
	t.Helper()
	return actionrun.Run(t, context.Background(), inputs, env...)
}

// bgDeploy deploys tag blue-green and requires it to go live on color.
func bgDeploy(t *testing.T, c *testcluster.Cluster, ns, tag, color string, extra ...string) actionrun.Result {
	t.Helper()
	r := runAction(t, bgInputs(c, ns, tag, extra...))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" || r.Outputs["active_color"] != color {
		t.Fatalf("deploy %s: exit %d, outputs %v, want succeeded on %s\n%s", tag, r.Exit, r.Outputs, color, r.Stdout)
	}
	return r
}

// routed is where the Service's EndpointSlices send traffic (what kube-proxy routes by): the
// colours of its ready endpoints' pods, sorted and joined ("" when none).
func routed(ctx context.Context, c *testcluster.Cluster, ns, svc string) (string, error) {
	slices, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return "", err
	}
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	color := map[string]string{}
	for _, p := range pods.Items {
		color[p.Name] = p.Labels["shepherd.io/color"] + "@" + p.Spec.Containers[0].Image[strings.LastIndex(p.Spec.Containers[0].Image, ":")+1:]
	}
	seen := map[string]bool{}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready && e.TargetRef != nil {
				seen[color[e.TargetRef.Name]] = true
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

// routesTo waits until Service svc routes only to pods of want ("blue@1.0.0").
func routesTo(t *testing.T, c *testcluster.Cluster, ns, svc, want string) {
	t.Helper()
	eventually(t, 20*time.Second, svc+" routing to "+want, func(ctx context.Context) (bool, string) {
		got, err := routed(ctx, c, ns, svc)
		if err != nil {
			return false, err.Error()
		}
		return got == want, "routes to " + got
	})
}

// routeLog records every distinct routing of svc, polled every 50ms until stop is called.
type routeLog struct {
	mu   sync.Mutex
	seen []string
	stop func()
	done chan struct{}
}

func watchRoutes(c *testcluster.Cluster, ns, svc string) *routeLog {
	return watchRouting(func(ctx context.Context) (string, error) { return routed(ctx, c, ns, svc) })
}

// watchRouting records every distinct answer of routing, polled every 50ms, until Stop.
func watchRouting(routing func(ctx context.Context) (string, error)) *routeLog {
	ctx, cancel := context.WithCancel(context.Background())
	l := &routeLog{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			if got, err := routing(ctx); err == nil {
				l.mu.Lock()
				if len(l.seen) == 0 || l.seen[len(l.seen)-1] != got {
					l.seen = append(l.seen, got)
				}
				l.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return l
}

// Stop ends the log and returns the routings seen, in order.
func (l *routeLog) Stop() []string {
	l.stop()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen
}

func replicas(t *testing.T, c *testcluster.Cluster, ns, name string) int32 {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// scaledDown requires Deployment name to be at 0 replicas (kept, not deleted).
func scaledDown(t *testing.T, c *testcluster.Cluster, ns, name string) {
	t.Helper()
	if n := replicas(t, c, ns, name); n != 0 {
		t.Errorf("%s has %d replicas, want 0 (kept, scaled down)", name, n)
	}
}

// leasePhase is the phase the release's Lease records.
func leasePhase(c *testcluster.Cluster, ns string) string {
	st, err := kube.Peek(context.Background(), c.Client, ns, "web")
	if err != nil || st == nil {
		return ""
	}
	return string(st.Phase)
}

func wantOut(t *testing.T, r actionrun.Result, key, want string) {
	t.Helper()
	if r.Outputs[key] != want {
		t.Errorf("output %s = %q, want %q\n%s", key, r.Outputs[key], want, r.Stdout)
	}
}

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s does not say %q:\n%s", what, sub, s)
	}
}

// releases is the release's Helm history, oldest first.
func releases(t *testing.T, c *testcluster.Cluster, ns string) []*helmrelease.Release {
	t.Helper()
	cl, err := kube.New(c.Kubeconfig, "", ns)
	if err != nil {
		t.Fatal(err)
	}
	h, err := release.New(cl.Getter, ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := h.History("web")
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

// helmHistory is "revision:status …" of the release, oldest first.
func helmHistory(t *testing.T, c *testcluster.Cluster, ns string) string {
	t.Helper()
	var out []string
	for _, r := range releases(t, c, ns) {
		out = append(out, fmt.Sprintf("%d:%s", r.Version, r.Info.Status))
	}
	return strings.Join(out, " ")
}

// description is revision rev's description in Helm history.
func description(t *testing.T, c *testcluster.Cluster, ns string, rev int) string {
	t.Helper()
	for _, r := range releases(t, c, ns) {
		if r.Version == rev {
			return r.Info.Description
		}
	}
	return ""
}
