package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// httpRoutes is the Gateway API's HTTPRoute resource, as Shepherd reads and writes it.
var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// routeAccept is how long a gateway may take to accept a generation of the route.
const routeAccept = 30 * time.Second

// routing is how a canary's traffic is weighted: by replicas (route ""), or on an HTTPRoute.
type routing struct {
	route string
	// fixed is canary_replicas (0: ceil(N × weight)).
	fixed int
	// header and value: the preview rule's match ("": none).
	header, value string
}

// routingOf is the routing cfg asks for.
func routingOf(cfg config.Config) routing {
	if !cfg.GatewayAPI() {
		return routing{}
	}
	return routing{route: cfg.HTTPRoute, fixed: cfg.CanaryReplicas, header: cfg.PreviewHeader, value: cfg.PreviewValue}
}

// routingFrom is the routing a run recorded in the lock's notes.
func routingFrom(notes map[string]string) routing {
	rt := routing{route: notes[strategy.NoteRoute]}
	rt.fixed, _ = strconv.Atoi(notes[strategy.NoteCanaryScale])
	if name, value, ok := strings.Cut(notes[strategy.NotePreview], ":"); ok {
		rt.header, rt.value = strings.TrimSpace(name), strings.TrimSpace(value)
	}
	return rt
}

// routes is the namespace's HTTPRoutes through the run's credentials.
func (r *run) routes() (dynamic.ResourceInterface, error) {
	dc, err := r.dynamic()
	if err != nil {
		return nil, err
	}
	return dc.Resource(httpRoutes).Namespace(r.cfg.Namespace), nil
}

// dynamic is a dynamic client with the run's credentials.
func (r *run) dynamic() (dynamic.Interface, error) {
	if r.d.Dynamic != nil {
		return r.d.Dynamic, nil
	}
	return dynamic.NewForConfig(r.d.Clients.Config)
}

// checkRoute refuses, before any write, a route Shepherd could not weight: the Gateway API
// missing from the cluster, no such HTTPRoute, or no right to change it. It returns the route's
// rules as the chart or the platform wrote them (the ones saved on it while a canary runs).
func (r *run) checkRoute(ctx context.Context, name string) (map[string]any, error) {
	ns := r.cfg.Namespace
	if _, err := r.d.Clients.Typed.Discovery().ServerResourcesForGroupVersion(httpRoutes.GroupVersion().String()); err != nil {
		return nil, fmt.Errorf("%s: %s needs the Gateway API's HTTPRoute (%s), which this cluster does not serve: install the Gateway API CRDs and a gateway, or use %s: %s (%v)",
			config.InTrafficRouter, config.RouterGatewayAPI, httpRoutes.GroupVersion(), config.InTrafficRouter, config.RouterReplicas, kube.Explain(err))
	}
	rc, err := r.routes()
	if err != nil {
		return nil, err
	}
	obj, err := rc.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%s: there is no HTTPRoute %s in namespace %s (the route must exist before a canary: deploy once, or create it)", config.InHTTPRoute, name, ns)
	case err != nil:
		return nil, fmt.Errorf("%s: cannot read HTTPRoute %s in namespace %s: %w", config.InHTTPRoute, name, ns, kube.Explain(err))
	}
	for _, verb := range []string{"update", "patch"} {
		review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: httpRoutes.Group, Resource: httpRoutes.Resource, Name: name}}}
		got, err := r.d.Clients.Typed.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: cannot ask whether this run may change HTTPRoute %s: %w", config.InHTTPRoute, name, kube.Explain(err))
		}
		if !got.Status.Allowed {
			return nil, fmt.Errorf("%s: this run's credentials may not %s HTTPRoute %s in namespace %s: grant %s on httproutes.%s (a Role) to weight it",
				config.InHTTPRoute, verb, name, ns, "get, update, patch", httpRoutes.Group)
		}
	}
	return originalRules(obj)
}

// originalRules is a route's spec with the rules as its owner wrote them: the ones saved on it
// while a canary runs, else its own.
func originalRules(obj *unstructured.Unstructured) (map[string]any, error) {
	spec, _ := obj.Object["spec"].(map[string]any)
	out := map[string]any{}
	for k, v := range spec {
		out[k] = v
	}
	if saved, ok := obj.GetAnnotations()[strategy.RouteRulesAnnotation]; ok {
		var rules []any
		if err := json.Unmarshal([]byte(saved), &rules); err != nil {
			return nil, fmt.Errorf("HTTPRoute %s: its annotation %s is not the rules Shepherd saved: %v", obj.GetName(), strategy.RouteRulesAnnotation, err)
		}
		out["rules"] = rules
	}
	return out, nil
}

// routeTo writes spec's rules on route name, the owner's saved beside them (restore: the
// owner's put back and the saved copy dropped), and waits until every gateway that serves it
// accepted that generation with its references resolved; a gateway's refusal is the error.
func (r *run) routeTo(ctx context.Context, name string, rules func(orig map[string]any) (map[string]any, error), restore bool) error {
	rc, err := r.routes()
	if err != nil {
		return err
	}
	var gen int64
	for try := 0; ; try++ {
		obj, err := rc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read HTTPRoute %s: %w", name, kube.Explain(err))
		}
		orig, err := originalRules(obj)
		if err != nil {
			return err
		}
		spec, err := rules(orig)
		if err != nil {
			return fmt.Errorf("HTTPRoute %s: %w", name, err)
		}
		if err := unstructured.SetNestedField(obj.Object, spec["rules"], "spec", "rules"); err != nil {
			return err
		}
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		if restore {
			delete(ann, strategy.RouteRulesAnnotation)
		} else if _, ok := ann[strategy.RouteRulesAnnotation]; !ok {
			saved, _ := json.Marshal(orig["rules"])
			ann[strategy.RouteRulesAnnotation] = string(saved)
		}
		obj.SetAnnotations(ann)
		got, err := rc.Update(ctx, obj, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && try < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update HTTPRoute %s: %w", name, kube.Explain(err))
		}
		gen = got.GetGeneration()
		break
	}
	return r.routeAccepted(ctx, rc, name, gen)
}

// routeAccepted waits until the route's generation gen is accepted by every parent gateway.
func (r *run) routeAccepted(ctx context.Context, rc dynamic.ResourceInterface, name string, gen int64) error {
	deadline := r.d.Clock.Now().Add(routeAccept)
	for {
		obj, err := rc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read HTTPRoute %s: %w", name, kube.Explain(err))
		}
		ok, rejected := strategy.RouteAccepted(obj.Object, gen)
		switch {
		case ok:
			return nil
		case rejected != "":
			return fmt.Errorf("the gateway rejected HTTPRoute %s (generation %d): %s", name, gen, rejected)
		case r.d.Clock.Now().After(deadline):
			return fmt.Errorf("no gateway accepted HTTPRoute %s's generation %d within %s (is a gateway serving its parentRefs?)", name, gen, routeAccept)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-r.d.Clock.After(50 * time.Millisecond):
		}
	}
}

// planRoute checks a gateway-api canary's route before any write and reads what its Services'
// track twins select by: the Services the route's owner sends to, and each stable
// Deployment's pod-template-hash now.
func (r *run) planRoute(ctx context.Context, p *trackPlan) error {
	if !r.cfg.GatewayAPI() {
		return nil
	}
	spec, err := r.checkRoute(ctx, r.cfg.HTTPRoute)
	if err != nil {
		return err
	}
	p.route, p.sends, p.hashes = r.cfg.HTTPRoute, strategy.RouteSends(spec), map[string]string{}
	for _, name := range p.layout.Names() {
		if p.hashes[name], err = r.podTemplateHash(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// podTemplateHash is the pod-template-hash of Deployment name's current ReplicaSet ("": none yet).
func (r *run) podTemplateHash(ctx context.Context, name string) (string, error) {
	apps := r.d.Clients.Typed.AppsV1()
	d, err := apps.Deployments(r.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("read Deployment %s: %w", name, kube.Explain(err))
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return "", fmt.Errorf("the selector of Deployment %s: %w", name, err)
	}
	rss, err := apps.ReplicaSets(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", fmt.Errorf("list the ReplicaSets of %s: %w", name, kube.Explain(err))
	}
	const revision = "deployment.kubernetes.io/revision"
	for _, rs := range rss.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Annotations[revision] == d.Annotations[revision] {
			return rs.Labels[strategy.PodTemplateHash], nil
		}
	}
	return "", nil
}
