package canary

import (
	"context"
	"fmt"
	"strings"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// gatewayRouter weights the canary exactly on an HTTPRoute: the route's backendRefs to each
// chart Service become <svc>-stable and <svc>-canary at the stage's weight. Capacity follows
// weight — the canary runs ceil(N × weight) pods, watched Ready before the route sends it
// anything — and the stable track keeps its N until the promotion, so an abort is a weight
// change (no pod has to start) and then the canary's scale-down.
type gatewayRouter struct{ c *Cluster }

var _ Router = gatewayRouter{}

// SetWeight scales the canary to the stage's pods, watches them Ready, then writes the weight
// on the route and waits until the gateway accepted it.
func (g gatewayRouter) SetWeight(ctx context.Context, percent int) (float64, error) {
	c, t := g.c, g.c.tr
	if _, err := c.canaryReady(ctx, percent); err != nil {
		return 0, err
	}
	if t.rt.header != "" && !c.previewed { // the preview rule first, before any weight moves
		if err := c.routes().Write(ctx, t.rt.route, t.weigh(0), false); err != nil {
			return 0, err
		}
		c.previewed = true
		c.event(ctx, "stage", Info, "HTTPRoute %s sends requests with %s: %s to the canary, and no others yet", t.rt.route, t.rt.header, t.rt.value)
	}
	if err := c.routes().Write(ctx, t.rt.route, t.weigh(percent), false); err != nil {
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
				if spec, err = route.Preview(spec, svc, svc+CanaryServiceSuffix, t.rt.header, t.rt.value); err != nil {
					return nil, err
				}
			}
			if spec, err = route.Split(spec, svc, svc+StableServiceSuffix, svc+CanaryServiceSuffix, percent); err != nil {
				return nil, err
			}
		}
		return spec, nil
	}
}

// Weight is the canary's share of the first routed Service's weight on the route now.
func (g gatewayRouter) Weight(ctx context.Context) (float64, error) {
	c, t := g.c, g.c.tr
	obj, err := c.routes().Get(ctx, t.rt.route)
	if err != nil {
		return 0, err
	}
	if len(t.routed) == 0 {
		return 0, nil
	}
	spec, _ := obj.Object["spec"].(map[string]any)
	return route.Share(spec, t.routed[0], t.routed[0]+StableServiceSuffix, t.routed[0]+CanaryServiceSuffix), nil
}

// Reset takes the canary's weight to 0 on the route at once (the stable track runs its N),
// scales the canary to zero, then puts the route back as its owner wrote it — to the chart's
// Services, whose only pods are the stable track's by then.
func (g gatewayRouter) Reset(ctx context.Context, _ bool) error {
	c, t := g.c, g.c.tr
	if split, err := c.routes().Split(ctx, t.rt.route); err != nil {
		return err
	} else if !split { // never weighted (stopped before its first stage): the canary's pods alone
		return c.scaleAll(ctx, t.canaryNames(), 0)
	}
	if err := c.routes().Write(ctx, t.rt.route, t.weigh(0), false); err != nil {
		return err
	}
	t.report.Weight = 0
	c.event(ctx, "abort", Info, "out of traffic at once: HTTPRoute %s sends the canary nothing (the stable track's %s run as they did)", t.rt.route, strings.Join(t.names, ", "))
	if err := c.routes().Wait(ctx); err != nil {
		return err
	}
	if err := c.scaleAll(ctx, t.canaryNames(), 0); err != nil {
		return err
	}
	if err := c.canaryEndpointsGone(ctx, t); err != nil { // the chart's Services select the canary's pods too
		return err
	}
	if err := c.routes().Restore(ctx, t.rt.route); err != nil {
		return err
	}
	c.event(ctx, "abort", Info, "the canary went to 0 and HTTPRoute %s is back as its owner wrote it: the stable track serves 100%% again", t.rt.route)
	return nil
}

// retire ends a promotion: the stable track, on the new version, takes the route's traffic
// through <svc>-stable (its selector moved to the new pods), the canary goes to zero once no
// gateway sends to it, and the route is put back as its owner wrote it.
func (g gatewayRouter) retire(ctx context.Context) error {
	c, t := g.c, g.c.tr
	for _, svc := range t.routed {
		if err := c.reselectStable(ctx, t, svc+StableServiceSuffix); err != nil {
			return err
		}
	}
	if err := c.routes().Write(ctx, t.rt.route, t.weigh(0), false); err != nil {
		return err
	}
	c.event(ctx, "promote", Info, "HTTPRoute %s sends everything to the stable track, on the new version; the canary takes nothing", t.rt.route)
	if err := c.routes().Wait(ctx); err != nil {
		return err
	}
	if err := c.scaleAll(ctx, t.canaryNames(), 0); err != nil {
		return err
	}
	if err := c.canaryEndpointsGone(ctx, t); err != nil {
		return err
	}
	if err := c.routes().Restore(ctx, t.rt.route); err != nil {
		return err
	}
	t.report.Weight = 100
	c.event(ctx, "promote", Info, "the stable track serves the new version; %s scaled to 0 (kept); HTTPRoute %s is back as its owner wrote it", strings.Join(t.canaryNames(), ", "), t.rt.route)
	return nil
}

// reselectStable points track Service name at the pods its stable Deployment runs now.
func (c *Cluster) reselectStable(ctx context.Context, t *tracks, name string) error {
	core := c.typed().CoreV1().Services(c.ns())
	svc, err := core.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read Service %s: %w", name, kube.Explain(err))
	}
	for _, dep := range t.names {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, dep, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read Deployment %s: %w", dep, kube.Explain(err))
		}
		match := true
		for k, v := range svc.Spec.Selector {
			if k != PodTemplateHash && d.Spec.Template.Labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		hash, err := c.podTemplateHash(ctx, dep)
		if err != nil {
			return err
		}
		patch := fmt.Sprintf(`{"spec":{"selector":{%q:%q}}}`, PodTemplateHash, hash)
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
func (c *Cluster) keepRouting(ctx context.Context, canaryManifest string) (func(string) (string, error), error) {
	t := c.tr
	if t.rt.route == "" {
		return func(m string) (string, error) { return m, nil }, nil
	}
	docs, err := TrackServiceDocs(canaryManifest)
	if err != nil {
		return nil, err
	}
	live, err := c.routes().Get(ctx, t.rt.route)
	if err != nil {
		return nil, err
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
		return WithRouteRules(m, t.rt.route, rules, saved)
	}, nil
}

// canaryEndpointsGone waits until no EndpointSlice of a routed chart Service lists a canary
// pod, so that the route, put back on the chart's Services, sends nothing to a pod going away.
func (c *Cluster) canaryEndpointsGone(ctx context.Context, t *tracks) error {
	deadline := c.s.Clock().Now().Add(c.cfg.Timeout)
	for {
		left := ""
		for _, svc := range t.routed {
			slices, err := c.typed().DiscoveryV1().EndpointSlices(c.ns()).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
			if err != nil {
				return fmt.Errorf("read Service %s's endpoints: %w", svc, kube.Explain(err))
			}
			for _, sl := range slices.Items {
				for _, e := range sl.Endpoints {
					for _, name := range t.names {
						if e.TargetRef != nil && strings.HasPrefix(e.TargetRef.Name, name+CanarySuffix+"-") {
							left = e.TargetRef.Name
						}
					}
				}
			}
		}
		switch {
		case left == "":
			return nil
		case c.s.Clock().Now().After(deadline):
			return fmt.Errorf("the canary's pod %s is still an endpoint of the chart's Services after %s", left, c.cfg.Timeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-c.s.Clock().After(100 * time.Millisecond):
		}
	}
}
