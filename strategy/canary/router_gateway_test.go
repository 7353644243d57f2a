package canary

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// An abort on a routed canary takes the canary's weight to 0 before any of its pods stops, and
// puts the route back (to the chart's Service, which selects the canary's pods too) only once
// the canary is at 0: no request is ever routed to a pod going away.
func TestGatewayResetTakesTheWeightFirst(t *testing.T) {
	f, c := routedFake(httpRoute(""))
	f.Deployment("web-canary", 1, 1, nil)
	ctx := context.Background()
	if err := c.routes().Write(ctx, "web", c.tr.weigh(25), false); err != nil {
		t.Fatal(err)
	}
	f.Reset()
	if err := (gatewayRouter{c: c}).Reset(ctx, true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`httproutes web [{"backendRefs":[{"name":"web-stable","port":80,"weight":100},{"name":"web-canary","port":80,"weight":0}]}]`,
		`scale web-canary 0`,
		`httproutes web [{"backendRefs":[{"name":"web","port":80}]}]`,
	}
	if strings.Join(f.Log(), "\n") != strings.Join(want, "\n") {
		t.Errorf("the abort's writes, in order:\n%s\nwant:\n%s", strings.Join(f.Log(), "\n"), strings.Join(want, "\n"))
	}
	if c.tr.report.Weight != 0 {
		t.Errorf("the report's weight: %d", c.tr.report.Weight)
	}
}

// A canary stopped before its first stage never had a weight: the abort scales it to 0 and
// leaves the route, its owner's, untouched.
func TestGatewayResetBeforeAnyWeight(t *testing.T) {
	f, c := routedFake(httpRoute(""))
	f.Deployment("web-canary", 1, 1, nil)
	if err := (gatewayRouter{c: c}).Reset(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if want := `scale web-canary 0`; strings.Join(f.Log(), "\n") != want {
		t.Errorf("writes %v, want only %s", f.Log(), want)
	}
}

// A routed canary's promotion ends with the stable track, on the new version, taking the
// route's traffic through web-stable (its selector moved to the new pods) before the canary
// scales down, and the route back to the chart's Service only after that.
func TestGatewayRetireMovesTrafficBeforeTheCanaryStops(t *testing.T) {
	f, c := routedFake(httpRoute(""))
	f.Deployment("web-canary", 1, 1, nil)
	cs := f.Typed
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
	if err := c.routes().Write(ctx, "web", c.tr.weigh(100), false); err != nil {
		t.Fatal(err)
	}
	f.Reset()
	if err := (gatewayRouter{c: c}).retire(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`patch services web-stable {"spec":{"selector":{"pod-template-hash":"new5d"}}}`,
		`httproutes web [{"backendRefs":[{"name":"web-stable","port":80,"weight":100},{"name":"web-canary","port":80,"weight":0}]}]`,
		`scale web-canary 0`,
		`httproutes web [{"backendRefs":[{"name":"web","port":80}]}]`,
	}
	if strings.Join(f.Log(), "\n") != strings.Join(want, "\n") {
		t.Errorf("the promotion's last writes, in order:\n%s\nwant:\n%s", strings.Join(f.Log(), "\n"), strings.Join(want, "\n"))
	}
	if c.tr.report.Weight != 100 {
		t.Errorf("the report's weight after the promotion: %d", c.tr.report.Weight)
	}
}
