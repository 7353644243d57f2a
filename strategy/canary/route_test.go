package canary

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

// httpRoute is HTTPRoute web sending to Service web, at generation 1, with a parent whose
// conditions for generation 1 are accepted, or rejected with reason and message.
func httpRoute(rejected string) *unstructured.Unstructured {
	resolved := map[string]any{"type": "ResolvedRefs", "status": "True", "observedGeneration": int64(1)}
	if rejected != "" {
		resolved = map[string]any{"type": "ResolvedRefs", "status": "False", "observedGeneration": int64(1), "reason": "BackendNotFound", "message": rejected}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "web", "namespace": "ns", "generation": int64(1)},
		"spec":     map[string]any{"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": "web", "port": int64(80)}}}}},
		"status": map[string]any{"parents": []any{map[string]any{"conditions": []any{
			map[string]any{"type": "Accepted", "status": "True", "observedGeneration": int64(1)}, resolved}}}},
	}}
}

// routedFake is a session whose cluster holds obj, and a canary whose tracks are routed on
// HTTPRoute web to Service web.
func routedFake(obj *unstructured.Unstructured) (*sessiontest.Fake, *Cluster) {
	f := sessiontest.New(map[schema.GroupVersionResource]string{route.HTTPRoutes: "HTTPRouteList"}, obj)
	cfg := config.Default()
	cfg.Namespace = sessiontest.Namespace
	c := NewCluster(Env{Session: f, Config: cfg}, nil)
	c.tr = &tracks{names: []string{"web"}, routed: []string{"web"}, rt: routing{route: "web"}, report: &outcome.CanaryReport{}}
	return f, c
}

// A weight goes onto the route with its owner's rules saved beside it; put back, the route is
// as its owner wrote it, the saved copy gone; a later weight starts from the owner's rules,
// never from a split.
func TestRouteToSavesAndRestoresTheOwnersRules(t *testing.T) {
	f, c := routedFake(httpRoute(""))
	ctx := context.Background()
	tr := c.tr
	for _, w := range []int{10, 50} {
		if err := c.routes().Write(ctx, "web", tr.weigh(w), false); err != nil {
			t.Fatal(err)
		}
	}
	got := getRoute(t, f)
	rules, _ := json.Marshal(got.Object["spec"].(map[string]any)["rules"])
	if want := `[{"backendRefs":[{"name":"web-stable","port":80,"weight":50},{"name":"web-canary","port":80,"weight":50}]}]`; string(rules) != want {
		t.Errorf("rules at 50%%: %s, want %s", rules, want)
	}
	if saved := got.GetAnnotations()[strategy.RouteRulesAnnotation]; saved != `[{"backendRefs":[{"name":"web","port":80}]}]` {
		t.Errorf("saved rules %q", saved)
	}
	if err := c.routes().Restore(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	got = getRoute(t, f)
	rules, _ = json.Marshal(got.Object["spec"].(map[string]any)["rules"])
	if _, saved := got.GetAnnotations()[strategy.RouteRulesAnnotation]; saved || string(rules) != `[{"backendRefs":[{"name":"web","port":80}]}]` {
		t.Errorf("restored: rules %s, annotations %v", rules, got.GetAnnotations())
	}
	if split, err := c.routes().Split(ctx, "web"); err != nil || split {
		t.Errorf("routeSplit after the restore: %v %v", split, err)
	}
}

// A gateway's refusal of the route is the stage's error, with the condition's reason and
// message.
func TestRouteToReadsTheGatewaysRefusal(t *testing.T) {
	_, c := routedFake(httpRoute(`service "web-canary" not found`))
	err := c.routes().Write(context.Background(), "web", (&tracks{routed: []string{"web"}}).weigh(10), false)
	if err == nil || !strings.Contains(err.Error(), `the gateway rejected HTTPRoute web (generation 1): ResolvedRefs: BackendNotFound (service "web-canary" not found)`) {
		t.Fatalf("err = %v", err)
	}
}

func getRoute(t *testing.T, f *sessiontest.Fake) *unstructured.Unstructured {
	t.Helper()
	got, err := f.Dynamic.Resource(route.HTTPRoutes).Namespace(sessiontest.Namespace).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
