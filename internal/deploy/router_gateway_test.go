package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
)

// instantClock is the real clock whose waits end at once: the router's settle and polls take
// no time in a unit test.
type instantClock struct{ clock.RealClock }

func (instantClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// writes records, in order across both fake clients, the route's weights and the canary's scale.
type writes struct {
	mu  sync.Mutex
	log []string
}

func (w *writes) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, s)
}

// gatewayRun is a run whose canary web-canary (1 pod) is weighted on route web, with both
// fake clients' writes recorded in w.
func gatewayRun(t *testing.T, w *writes) *canaryCluster {
	t.Helper()
	one := int32(1)
	cs := fake.NewSimpleClientset(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-canary", Namespace: "ns"}, Spec: appsv1.DeploymentSpec{Replicas: &one}})
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		w.add(fmt.Sprintf("scale %s %s", p.GetName(), p.GetPatch()))
		return false, nil, nil
	})
	dc := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{httpRoutes: "HTTPRouteList"}, route(""))
	dc.PrependReactor("update", "httproutes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured)
		rules, _ := json.Marshal(obj.Object["spec"].(map[string]any)["rules"])
		w.add("route " + string(rules))
		return false, nil, nil
	})
	cfg := config.Default()
	cfg.Namespace = "ns"
	r := &run{cfg: cfg, d: Deps{Clients: &kube.Clients{Typed: cs}, Dynamic: dc, Clock: instantClock{}, Reporter: &recordingReporter{}}}
	return &canaryCluster{cluster: &cluster{r: r}, tr: &tracks{names: []string{"web"}, routed: []string{"web"},
		rt: routing{route: "web"}, report: &CanaryReport{}}}
}

// An abort on a routed canary takes the canary's weight to 0 before any of its pods stops, and
// puts the route back (to the chart's Service, which selects the canary's pods too) only once
// the canary is at 0: no request is ever routed to a pod going away.
func TestGatewayResetTakesTheWeightFirst(t *testing.T) {
	w := &writes{}
	c := gatewayRun(t, w)
	ctx := context.Background()
	if err := c.r.routeTo(ctx, "web", c.tr.weigh(25), false); err != nil {
		t.Fatal(err)
	}
	w.log = nil
	if err := (gatewayRouter{c: c}).Reset(ctx, true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`route [{"backendRefs":[{"name":"web-stable","port":80,"weight":100},{"name":"web-canary","port":80,"weight":0}]}]`,
		`scale web-canary {"spec":{"replicas":0}}`,
		`route [{"backendRefs":[{"name":"web","port":80}]}]`,
	}
	if strings.Join(w.log, "\n") != strings.Join(want, "\n") {
		t.Errorf("the abort's writes, in order:\n%s\nwant:\n%s", strings.Join(w.log, "\n"), strings.Join(want, "\n"))
	}
	if c.tr.report.Weight != 0 {
		t.Errorf("the report's weight: %d", c.tr.report.Weight)
	}
}

// A canary stopped before its first stage never had a weight: the abort scales it to 0 and
// leaves the route, its owner's, untouched.
func TestGatewayResetBeforeAnyWeight(t *testing.T) {
	w := &writes{}
	c := gatewayRun(t, w)
	if err := (gatewayRouter{c: c}).Reset(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if want := `scale web-canary {"spec":{"replicas":0}}`; strings.Join(w.log, "\n") != want {
		t.Errorf("writes %v, want only %s", w.log, want)
	}
}

// A routed canary's promotion ends with the stable track, on the new version, taking the
// route's traffic through web-stable (its selector moved to the new pods) before the canary
// scales down, and the route back to the chart's Service only after that.
func TestGatewayRetireMovesTrafficBeforeTheCanaryStops(t *testing.T) {
	w := &writes{}
	c := gatewayRun(t, w)
	cs := c.r.d.Clients.Typed.(*fake.Clientset)
	ctx := context.Background()
	three := int32(3)
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-web",
		Annotations: map[string]string{"deployment.kubernetes.io/revision": "4"}},
		Spec: appsv1.DeploymentSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}}}}
	isController := true
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-new5d", Namespace: "ns",
		Labels:          map[string]string{"app": "web", "pod-template-hash": "new5d"},
		Annotations:     map[string]string{"deployment.kubernetes.io/revision": "4"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web", Controller: &isController}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-stable", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web", "pod-template-hash": "old7c"}}}
	for _, o := range []runtime.Object{web, rs, svc} {
		if err := cs.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	cs.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		w.add(fmt.Sprintf("select %s %s", p.GetName(), p.GetPatch()))
		return false, nil, nil
	})
	if err := c.r.routeTo(ctx, "web", c.tr.weigh(100), false); err != nil {
		t.Fatal(err)
	}
	w.log = nil
	if err := (gatewayRouter{c: c}).retire(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`select web-stable {"spec":{"selector":{"pod-template-hash":"new5d"}}}`,
		`route [{"backendRefs":[{"name":"web-stable","port":80,"weight":100},{"name":"web-canary","port":80,"weight":0}]}]`,
		`scale web-canary {"spec":{"replicas":0}}`,
		`route [{"backendRefs":[{"name":"web","port":80}]}]`,
	}
	if strings.Join(w.log, "\n") != strings.Join(want, "\n") {
		t.Errorf("the promotion's last writes, in order:\n%s\nwant:\n%s", strings.Join(w.log, "\n"), strings.Join(want, "\n"))
	}
	if c.tr.report.Weight != 100 {
		t.Errorf("the report's weight after the promotion: %d", c.tr.report.Weight)
	}
}
