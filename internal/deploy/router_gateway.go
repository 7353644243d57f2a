package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// gatewayRouter weights the canary exactly on an HTTPRoute: the route's backendRefs to each
// chart Service become <svc>-stable and <svc>-canary at the stage's weight. Capacity follows
// weight — the canary runs ceil(N × weight) pods, watched Ready before the route sends it
// anything — and the stable track keeps its N until the promotion, so an abort is a weight
// change (no pod has to start) and then the canary's scale-down.
type gatewayRouter struct{ c *canaryCluster }

var _ strategy.Router = gatewayRouter{}

// SetWeight scales the canary to the stage's pods, watches them Ready, then writes the weight
// on the route and waits until the gateway accepted it.
func (g gatewayRouter) SetWeight(ctx context.Context, percent int) (float64, error) {
	c, r, t := g.c, g.c.r, g.c.tr
	if _, err := c.canaryReady(ctx, percent); err != nil {
		return 0, err
	}
	if t.rt.header != "" && !c.previewed { // the preview rule first, before any weight moves
		if err := r.routeTo(ctx, t.rt.route, t.weigh(0), false); err != nil {
			return 0, err
		}
		c.previewed = true
		r.event(ctx, "stage", Info, "HTTPRoute %s sends requests with %s: %s to the canary, and no others yet", t.rt.route, t.rt.header, t.rt.value)
	}
	if err := r.routeTo(ctx, t.rt.route, t.weigh(percent), false); err != nil {
		return 0, err
	}
	return float64(percent), nil
}

// weigh is the route's spec at percent to the canary (with the preview rule, if any), from its
// owner's.
func (t *tracks) weigh(percent int) func(map[string]any) (map[string]any, error) {
	return func(spec map[string]any) (map[string]any, error) {
		var err error
		for _, svc := range t.routed {
			if t.rt.header != "" {
				if spec, err = strategy.PreviewRoute(spec, svc, svc+strategy.CanaryServiceSuffix, t.rt.header, t.rt.value); err != nil {
					return nil, err
				}
			}
			if spec, err = strategy.SplitRoute(spec, svc, percent); err != nil {
				return nil, err
			}
		}
		return spec, nil
	}
}

// Weight is the canary's share of the first routed Service's weight on the route now.
func (g gatewayRouter) Weight(ctx context.Context) (float64, error) {
	r, t := g.c.r, g.c.tr
	rc, err := r.routes()
	if err != nil {
		return 0, err
	}
	obj, err := rc.Get(ctx, t.rt.route, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("read HTTPRoute %s: %w", t.rt.route, kube.Explain(err))
	}
	if len(t.routed) == 0 {
		return 0, nil
	}
	spec, _ := obj.Object["spec"].(map[string]any)
	return strategy.CanaryShare(spec, t.routed[0]), nil
}

// Reset takes the canary's weight to 0 on the route at once (the stable track runs its N),
// scales the canary to zero, then puts the route back as its owner wrote it — to the chart's
// Services, whose only pods are the stable track's by then.
func (g gatewayRouter) Reset(ctx context.Context, _ bool) error {
	r, t := g.c.r, g.c.tr
	if split, err := r.routeSplit(ctx, t.rt.route); err != nil {
		return err
	} else if !split { // never weighted (stopped before its first stage): the canary's pods alone
		return r.scaleAll(ctx, t.canaryNames(), 0)
	}
	if err := r.routeTo(ctx, t.rt.route, t.weigh(0), false); err != nil {
		return err
	}
	t.report.Weight = 0
	r.event(ctx, "abort", Info, "out of traffic at once: HTTPRoute %s sends the canary nothing (the stable track's %s run as they did)", t.rt.route, strings.Join(t.names, ", "))
	if err := r.settle(ctx); err != nil {
		return err
	}
	if err := r.scaleAll(ctx, t.canaryNames(), 0); err != nil {
		return err
	}
	if err := r.canaryEndpointsGone(ctx, t); err != nil { // the chart's Services select the canary's pods too
		return err
	}
	if err := r.restoreRoute(ctx, t.rt.route); err != nil {
		return err
	}
	r.event(ctx, "abort", Info, "the canary went to 0 and HTTPRoute %s is back as its owner wrote it: the stable track serves 100%% again", t.rt.route)
	return nil
}

// routeSettle is how long a route's weight change is given to reach every gateway replica's
// data plane after the route's status says Accepted (Traefik applies its providers' changes
// up to 2 s later by default) before the pods it no longer sends to are stopped.
const routeSettle = 3 * time.Second

// settle waits routeSettle.
func (r *run) settle(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-r.d.Clock.After(routeSettle):
		return nil
	}
}

// retire ends a promotion: the stable track, on the new version, takes the route's traffic
// through <svc>-stable (its selector moved to the new pods), the canary goes to zero once no
// gateway sends to it, and the route is put back as its owner wrote it.
func (g gatewayRouter) retire(ctx context.Context) error {
	r, t := g.c.r, g.c.tr
	for _, svc := range t.routed {
		if err := r.reselectStable(ctx, t, svc+strategy.StableServiceSuffix); err != nil {
			return err
		}
	}
	if err := r.routeTo(ctx, t.rt.route, t.weigh(0), false); err != nil {
		return err
	}
	r.event(ctx, "promote", Info, "HTTPRoute %s sends everything to the stable track, on the new version; the canary takes nothing", t.rt.route)
	if err := r.settle(ctx); err != nil {
		return err
	}
	if err := r.scaleAll(ctx, t.canaryNames(), 0); err != nil {
		return err
	}
	if err := r.canaryEndpointsGone(ctx, t); err != nil {
		return err
	}
	if err := r.restoreRoute(ctx, t.rt.route); err != nil {
		return err
	}
	t.report.Weight = 100
	r.event(ctx, "promote", Info, "the stable track serves the new version; %s scaled to 0 (kept); HTTPRoute %s is back as its owner wrote it", strings.Join(t.canaryNames(), ", "), t.rt.route)
	return nil
}

// reselectStable points track Service name at the pods its stable Deployment runs now.
func (r *run) reselectStable(ctx context.Context, t *tracks, name string) error {
	core := r.d.Clients.Typed.CoreV1().Services(r.cfg.Namespace)
	svc, err := core.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read Service %s: %w", name, kube.Explain(err))
	}
	for _, dep := range t.names {
		d, err := r.d.Clients.Typed.AppsV1().Deployments(r.cfg.Namespace).Get(ctx, dep, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read Deployment %s: %w", dep, kube.Explain(err))
		}
		match := true
		for k, v := range svc.Spec.Selector {
			if k != strategy.PodTemplateHash && d.Spec.Template.Labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		hash, err := r.podTemplateHash(ctx, dep)
		if err != nil {
			return err
		}
		patch := fmt.Sprintf(`{"spec":{"selector":{%q:%q}}}`, strategy.PodTemplateHash, hash)
		if _, err := core.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("point Service %s at %s's new pods: %w", name, dep, kube.Explain(err))
		}
		return nil
	}
	return fmt.Errorf("the Service %s selects no stable Deployment's pods", name)
}

// keepRouting is the promotion's post-render step for a routed canary: the track Services its
// route sends to are kept, and the chart's route (if the chart renders it) keeps the weights
// it has now, so Helm's upgrade leaves traffic on the canary while the stable track rolls.
func (c *canaryCluster) keepRouting(ctx context.Context, canaryManifest string) (func(string) (string, error), error) {
	r, t := c.r, c.tr
	if t.rt.route == "" {
		return func(m string) (string, error) { return m, nil }, nil
	}
	docs, err := strategy.TrackServiceDocs(canaryManifest)
	if err != nil {
		return nil, err
	}
	rc, err := r.routes()
	if err != nil {
		return nil, err
	}
	live, err := rc.Get(ctx, t.rt.route, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read HTTPRoute %s: %w", t.rt.route, kube.Explain(err))
	}
	rules, _, _ := unstructured.NestedSlice(live.Object, "spec", "rules")
	saved := map[string]string{}
	if v, ok := live.GetAnnotations()[strategy.RouteRulesAnnotation]; ok {
		saved[strategy.RouteRulesAnnotation] = v
	}
	return func(m string) (string, error) {
		if len(docs) > 0 {
			m = strings.TrimRight(m, "\n") + "\n---\n" + strings.Join(docs, "\n---\n") + "\n"
		}
		return strategy.WithRouteRules(m, t.rt.route, rules, saved)
	}, nil
}

// canaryEndpointsGone waits until no EndpointSlice of a routed chart Service lists a canary
// pod, so that the route, put back on the chart's Services, sends nothing to a pod going away.
func (r *run) canaryEndpointsGone(ctx context.Context, t *tracks) error {
	deadline := r.d.Clock.Now().Add(r.cfg.Timeout)
	for {
		left := ""
		for _, svc := range t.routed {
			slices, err := r.d.Clients.Typed.DiscoveryV1().EndpointSlices(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
			if err != nil {
				return fmt.Errorf("read Service %s's endpoints: %w", svc, kube.Explain(err))
			}
			for _, sl := range slices.Items {
				for _, e := range sl.Endpoints {
					for _, name := range t.names {
						if e.TargetRef != nil && strings.HasPrefix(e.TargetRef.Name, name+strategy.CanarySuffix+"-") {
							left = e.TargetRef.Name
						}
					}
				}
			}
		}
		switch {
		case left == "":
			return nil
		case r.d.Clock.Now().After(deadline):
			return fmt.Errorf("the canary's pod %s is still an endpoint of the chart's Services after %s", left, r.cfg.Timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-r.d.Clock.After(100 * time.Millisecond):
		}
	}
}

// scaleAll sets each named Deployment's replicas.
func (r *run) scaleAll(ctx context.Context, names []string, replicas int) error {
	for _, name := range names {
		if err := r.scale(ctx, name, replicas); err != nil {
			return err
		}
	}
	return nil
}

// routeSplit says whether Shepherd weights route now (its owner's rules are saved on it).
func (r *run) routeSplit(ctx context.Context, route string) (bool, error) {
	rc, err := r.routes()
	if err != nil {
		return false, err
	}
	obj, err := rc.Get(ctx, route, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil // gone: nothing of Shepherd's to put back
	} else if err != nil {
		return false, fmt.Errorf("read HTTPRoute %s: %w", route, kube.Explain(err))
	}
	_, ok := obj.GetAnnotations()[strategy.RouteRulesAnnotation]
	return ok, nil
}

// restoreRoute puts route back as its owner wrote it, if Shepherd weights it.
func (r *run) restoreRoute(ctx context.Context, route string) error {
	if split, err := r.routeSplit(ctx, route); err != nil || !split {
		return err
	}
	if err := r.routeTo(ctx, route, func(orig map[string]any) (map[string]any, error) { return orig, nil }, true); err != nil {
		return err
	}
	return nil
}

// number is a JSON number's value (0 when absent).
func number(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	case int:
		return float64(n)
	}
	return 0
}
