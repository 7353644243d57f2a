//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A canary weighted on the chart's HTTPRoute through a real gateway, 3 replicas, stages 10, 25,
// 50: the share of requests the canary's pods answer is the weight asked for, within 3 points
// (a replica split of 3 gives 25, 25 and 50%), requests with the preview header reach only the
// new version, and after the promotion the route is as the chart renders it and serves 2.0.0.
func TestGatewayCanaryExactWeights(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	eps := c.SampleEndpoints(ns, "web")
	tl := count(c, ns)
	r := actionrun.Run(t, context.Background(), routedInputs(c, ns, "2.0.0", "stages", "10,25,50,100", "interval", "8s", "preview_header", "X-Canary: always"))
	tl.Stop()
	fig := eps.Stop()
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("canary: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	t.Logf("Service web: %s", fig)
	for _, w := range []float64{10, 25, 50} {
		got := tl.byWeight[w]
		n := got["1.0.0"] + got["2.0.0"]
		share := 100 * float64(got["2.0.0"]) / float64(max(n, 1))
		t.Logf("weight %g%%: the canary's pods answered %.1f%% of %d requests (%v)", w, share, n, got)
		if n < 300 || math.Abs(share-w) > 3 || len(got) != 2 {
			t.Errorf("weight %g%%: %.1f%% of %d requests reached 2.0.0, want within 3 points of %g%% and no errors (%v)", w, share, n, w, got)
		}
	}
	t.Logf("preview requests while weights moved: %v", tl.preview)
	if tl.preview["2.0.0"] < 50 || len(tl.preview) != 1 {
		t.Errorf("requests with X-Canary: always reached %v, want 2.0.0 alone", tl.preview)
	}
	threeThroughout(t, fig)
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, "2.0.0")
}

// Before any write, a route Shepherd could not weight is refused, naming http_route: one that
// does not exist, and one that sends to no Service of the chart. Helm's history is unchanged.
func TestGatewayCanaryRefusesBadRoutes(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	other := map[string]any{"parentRefs": []any{map[string]any{"name": c.Gateway.Name, "namespace": c.Gateway.Namespace}},
		"hostnames": []any{"other." + ns + ".example"},
		"rules":     []any{map[string]any{"backendRefs": []any{map[string]any{"name": "elsewhere", "port": int64(80)}}}}}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "other", "namespace": ns}, "spec": other}}
	if _, err := c.Dynamic.Resource(testcluster.HTTPRouteGVR).Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ route, want string }{
		{"nope", "http_route: there is no HTTPRoute nope in namespace " + ns},
		{"other", "http_route: HTTPRoute other sends to elsewhere; none of them is a Service of the chart (it renders web)"},
	} {
		r := actionrun.Run(t, context.Background(), routedInputs(c, ns, "2.0.0", "http_route", tc.route))
		if r.Exit == 0 || !strings.Contains(r.Stdout, tc.want) {
			t.Errorf("http_route %s: exit %d, want the refusal %q\n%s", tc.route, r.Exit, tc.want, r.Stdout)
		}
		if r.Outputs["revision"] != "1" && r.Outputs["revision"] != "" {
			t.Errorf("http_route %s: revision %q after a refusal", tc.route, r.Outputs["revision"])
		}
	}
	if d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "web-canary", metav1.GetOptions{}); err == nil {
		t.Errorf("a refused run created %s", d.Name)
	}
	servesOnly(t, c, ns, "1.0.0")
}

// An erroring canary at 10% is aborted on its metrics: the weight goes to 0 on the route first
// (the stable track runs its 3 pods throughout), then the canary scales down; no request
// reaches the canary soon after the decision, the route is as the chart renders it, and
// every request through the gateway was answered.
func TestGatewayCanaryAbortIsAWeightChange(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	eps := c.SampleEndpoints(ns, "web")
	tl := count(c, ns)
	start := time.Now()
	in := routedInputs(c, ns, "2.0.0", "stages", "10,100", "interval", "60s")
	in["set"] += "\nenv.FAIL_RATE=0.5"
	r := actionrun.Run(t, context.Background(), in)
	tl.Stop()
	fig := eps.Stop()
	if r.Exit == 0 || r.Outputs["status"] != "rolled-back" || r.Outputs["failure_reason"] != "analysis" {
		t.Fatalf("an erroring canary: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	decided := offset(t, r.Stdout, "the canary failed its analysis")
	zero := offset(t, r.Stdout, "out of traffic at once: HTTPRoute web")
	last := tl.lastCanary.Sub(start) - decided
	t.Logf("decided at +%s; the route's weight 0 accepted %s later; the last request to reach the canary %s after the decision (the run's clock starts after the process does: an upper bound); Service web: %s",
		decided, zero-decided, last.Round(time.Millisecond), fig)
	if zero-decided > 2*time.Second || last > 5*time.Second {
		t.Errorf("weight 0 accepted %s and the last canary request %s after the decision", zero-decided, last)
	}
	for w, got := range tl.byWeight {
		for v, n := range got {
			if v != "1.0.0" && v != "2.0.0" && v != "HTTP 500" { // 500: the canary's own errors
				t.Errorf("at weight %g%%, %d requests got %s", w, n, v)
			}
		}
	}
	threeThroughout(t, fig)
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, "1.0.0")
}

// A routed canary that stops before its last stage (auto_promote false) keeps its weight on
// the route for the gate, its pods as many as the weight needs (ceil(3 × 25%) = 1, or
// canary_replicas: 2) beside the stable track's 3; mode abort then takes it off (the weight first), and a second canary
// stopped at the gate is finished by mode promote: each time the route ends as the chart
// renders it, and the version that should serve does.
func TestGatewayCanaryGateAbortAndPromote(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	gate := func(tag string, pods int32) { // the canary's pods: ceil(3 × 25%), or canary_replicas
		t.Helper()
		in := routedInputs(c, ns, tag, "stages", "25,100", "interval", "3s", "auto_promote", "false")
		if pods != 1 {
			in["canary_replicas"] = fmt.Sprint(pods)
		}
		r := actionrun.Run(t, context.Background(), in)
		if r.Exit != 0 || r.Outputs["status"] != "awaiting-promotion" {
			t.Fatalf("%s to the gate: exit %d %v\n%s", tag, r.Exit, r.Outputs, r.Stdout)
		}
		if w, _ := canaryShare(context.Background(), c, ns); w != 25 {
			t.Errorf("%s at the gate: the gateway serves the canary %g%%, want 25%%", tag, w)
		}
		d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "web-canary", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != pods || d.Status.ReadyReplicas != pods {
			t.Errorf("%s at the gate: web-canary %v, want %d pods Ready (err %v)", tag, d.Status, pods, err)
		}
		if st, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{}); err != nil || st.Status.ReadyReplicas != 3 {
			t.Errorf("%s at the gate: the stable track is not at its 3 (err %v)", tag, err)
		}
	}
	eps := c.SampleEndpoints(ns, "web")
	gate("2.0.0", 1)
	r := actionrun.Run(t, context.Background(), map[string]string{"mode": "abort", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig)})
	if r.Exit != 0 && r.Outputs["status"] != "rolled-back" {
		t.Fatalf("mode abort: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, "1.0.0")
	gate("2.0.1", 2)
	r = actionrun.Run(t, context.Background(), map[string]string{"mode": "promote", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig),
		"interval": "3s", "prometheus_url": c.PrometheusURL})
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("mode promote: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	endsOn(t, c, ns, eps, "2.0.1")
}

// Blue-green through the same route: with preview_header, requests carrying it reach the idle
// colour before any switch (the smoke tests ask through the gateway with it), others the live
// one; mode abort and mode promote each put the route back as the chart renders it.
func TestGatewayBlueGreenPreview(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bg := func(tag string, extra ...string) map[string]string {
		in := routedInputs(c, ns, tag, append([]string{"strategy", "blue-green", "grace_period", "2s", "preview_header", "X-Canary: always", "auto_promote", "false"}, extra...)...)
		delete(in, "prometheus_url")
		return in
	}
	first := bg("1.0.0", "auto_promote", "true")
	delete(first, "traffic_router")
	delete(first, "http_route")
	delete(first, "preview_header")
	if r := actionrun.Run(t, context.Background(), first); r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("first install: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	servesOnly(t, c, ns, "1.0.0")
	threeReady(t, c, ns)
	eps := c.SampleEndpoints(ns, "web")
	paused := func(tag string) {
		t.Helper()
		r := actionrun.Run(t, context.Background(), bg(tag))
		if r.Exit != 0 || r.Outputs["status"] != "awaiting-promotion" {
			t.Fatalf("%s to the gate: exit %d %v\n%s", tag, r.Exit, r.Outputs, r.Stdout)
		}
		contains := "GET /api/health on the gateway at " + c.Gateway.URL
		if !strings.Contains(r.Stdout, contains) {
			t.Errorf("the smoke tests did not ask through the gateway (%q):\n%s", contains, r.Stdout)
		}
		got := map[string]int{}
		for i := 0; i < 200; i++ {
			got[get(c, ns, i%2 == 0)+map[bool]string{true: " with the header", false: ""}[i%2 == 0]]++
		}
		want := map[string]int{tag + " with the header": 100, "1.0.0": 100}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("at the gate of %s: %v, want %v", tag, got, want)
		}
	}
	paused("2.0.0")
	r := actionrun.Run(t, context.Background(), map[string]string{"mode": "abort", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig)})
	if r.Exit != 0 && r.Outputs["status"] != "rolled-back" {
		t.Fatalf("mode abort: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, "1.0.0")
	paused("2.0.1")
	r = actionrun.Run(t, context.Background(), map[string]string{"mode": "promote", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig), "grace_period": "2s"})
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("mode promote: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	endsOn(t, c, ns, eps, "2.0.1")
}

// Cancelled as the runner cancels (SIGINT) while the canary takes 25% on the route: the run
// takes the weight back to 0, scales the canary down and puts the route back before it exits;
// the stable track serves, and the Service never lost a ready endpoint.
func TestGatewayCanaryCancelled(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	eps := c.SampleEndpoints(ns, "web")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if w, _ := canaryShare(ctx, c, ns); w > 0 {
				cancel()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	r := actionrun.Run(t, ctx, routedInputs(c, ns, "2.0.0", "stages", "25,100", "interval", "60s"))
	fig := eps.Stop()
	if r.Exit == 0 || r.Outputs["status"] == "succeeded" {
		t.Fatalf("a cancelled canary: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	t.Logf("cancelled: status %s; Service web: %s", r.Outputs["status"], fig)
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, "1.0.0")
	threeThroughout(t, fig)
	if d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "web-canary", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 0 {
		t.Errorf("the canary after the cancellation: %v, err %v", d.Spec.Replicas, err)
	}
}

// Credentials that may read the route but not change it are refused before any write, naming
// http_route and the rights to grant.
func TestGatewayCanaryRefusesWithoutRights(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	ctx := context.Background()
	read := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-routes"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes"}, Verbs: []string{"get", "list", "watch"}}}}
	if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, read, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc := c.TokenKubeconfig(t, ns, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"})
	sa := regexp.MustCompile(`name: (deployer-\w+)`).FindSubmatch(kc)
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-routes"}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-routes"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: string(sa[1]), Namespace: ns}}}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	in := routedInputs(c, ns, "2.0.0")
	in["kubeconfig"] = string(kc)
	r := actionrun.Run(t, ctx, in)
	want := "http_route: this run's credentials may not update HTTPRoute web in namespace " + ns
	if r.Exit == 0 || !strings.Contains(r.Stdout, want) {
		t.Fatalf("exit %d, want the refusal %q\n%s", r.Exit, want, r.Stdout)
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "web-canary", metav1.GetOptions{}); err == nil {
		t.Error("a refused run created web-canary")
	}
}

// A run killed outright while its canary takes 25% on the route leaves the weight where it was
// and its work on the Lease; the next run, a rollback as `gh workflow run` starts one (no
// traffic inputs: the route is read from the Lease), takes the weight to 0 first and puts the
// route back, and the stable track serves.
func TestGatewayCanaryKilledThenRolledBack(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	installed(t, c, ns)
	eps := c.SampleEndpoints(ns, "web")
	kill := exec.Command(actionrun.Binary(t))
	go func() {
		for {
			if w, _ := canaryShare(context.Background(), c, ns); w > 0 {
				_ = kill.Process.Signal(os.Kill)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	actionrun.RunCmd(t, kill, routedInputs(c, ns, "2.0.0", "stages", "25,100", "interval", "60s"))
	if w, _ := canaryShare(context.Background(), c, ns); w != 25 {
		t.Fatalf("after the kill the gateway serves the canary %g%%, want the 25%% the run left", w)
	}
	r := actionrun.Run(t, context.Background(), map[string]string{"mode": "rollback", "release": "web", "namespace": ns,
		"kubeconfig": string(c.Kubeconfig), "reason": "the deploy died"})
	fig := eps.Stop()
	if r.Exit != 0 || r.Outputs["status"] != "rolled-back" {
		t.Fatalf("the rollback after the kill: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	routeAsRendered(t, c, ns)
	servesOnly(t, c, ns, "1.0.0")
	t.Logf("Service web: %s", fig)
	threeThroughout(t, fig)
}
