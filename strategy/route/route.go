// Package route reads and writes the Gateway API HTTPRoute a strategy weights: its rules
// written with its owner's saved beside them (in an annotation, so that any later run puts
// them back), each generation waited on until every gateway that serves it accepted it.
package route

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// HTTPRoutes is the Gateway API's HTTPRoute resource, as Shepherd reads and writes it.
var HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// acceptWithin is how long a gateway may take to accept a generation of the route.
const acceptWithin = 30 * time.Second

// Settle is how long a route's change is given to reach every gateway replica's data plane
// after the route's status says Accepted (Traefik applies its providers' changes up to 2 s
// later by default) before the pods it no longer sends to are stopped. Argo Rollouts waits
// 30 s (abortScaleDownDelaySeconds) for the same reason.
const Settle = 3 * time.Second

// Routes is a namespace's HTTPRoutes, through a run's credentials.
type Routes struct {
	K     strategy.Kube
	Clock clock.Clock
}

// Of is the HTTPRoutes of session s's namespace, on its clock.
func Of(s strategy.Session) Routes { return Routes{K: s.Kube(), Clock: s.Clock()} }

// Rules rewrites a route's spec (the owner's, as originally written).
type Rules func(orig map[string]any) (map[string]any, error)

// Owners leaves the owner's rules as they are.
func Owners(orig map[string]any) (map[string]any, error) { return orig, nil }

func (r Routes) client() (dynamic.ResourceInterface, error) {
	if r.K.Dynamic == nil {
		return nil, fmt.Errorf("no client for the Gateway API's resources")
	}
	dc, err := r.K.Dynamic()
	if err != nil {
		return nil, err
	}
	return dc.Resource(HTTPRoutes).Namespace(r.K.Namespace), nil
}

// Get reads route name.
func (r Routes) Get(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	rc, err := r.client()
	if err != nil {
		return nil, err
	}
	obj, err := rc.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read HTTPRoute %s: %w", name, kube.Explain(err))
	}
	return obj, nil
}

// Check refuses, before any write, a route Shepherd could not weight: the Gateway API
// missing from the cluster, no such HTTPRoute, or no right to change it. It returns the route's
// spec with the rules as the chart or the platform wrote them (the ones saved on it while
// Shepherd weights it).
func (r Routes) Check(ctx context.Context, name string) (map[string]any, error) {
	ns := r.K.Namespace
	if _, err := r.K.Typed.Discovery().ServerResourcesForGroupVersion(HTTPRoutes.GroupVersion().String()); err != nil {
		return nil, fmt.Errorf("%s: %s needs the Gateway API's HTTPRoute (%s), which this cluster does not serve: install the Gateway API CRDs and a gateway, or use %s: %s (%v)",
			config.InTrafficRouter, config.RouterGatewayAPI, HTTPRoutes.GroupVersion(), config.InTrafficRouter, config.RouterReplicas, kube.Explain(err))
	}
	rc, err := r.client()
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
			Namespace: ns, Verb: verb, Group: HTTPRoutes.Group, Resource: HTTPRoutes.Resource, Name: name}}}
		got, err := r.K.Typed.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: cannot ask whether this run may change HTTPRoute %s: %w", config.InHTTPRoute, name, kube.Explain(err))
		}
		if !got.Status.Allowed {
			return nil, fmt.Errorf("%s: this run's credentials may not %s HTTPRoute %s in namespace %s: grant %s on httproutes.%s (a Role) to weight it",
				config.InHTTPRoute, verb, name, ns, "get, update, patch", HTTPRoutes.Group)
		}
	}
	return OriginalRules(obj)
}

// OriginalRules is a route's spec with the rules as its owner wrote them: the ones saved on it
// while Shepherd weights it, else its own.
func OriginalRules(obj *unstructured.Unstructured) (map[string]any, error) {
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

// Write writes rules' result on route name, the owner's saved beside them (restore: the
// owner's put back and the saved copy dropped), and waits until every gateway that serves it
// accepted that generation with its references resolved; a gateway's refusal is the error.
func (r Routes) Write(ctx context.Context, name string, rules Rules, restore bool) error {
	rc, err := r.client()
	if err != nil {
		return err
	}
	var gen int64
	for try := 0; ; try++ {
		obj, err := rc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read HTTPRoute %s: %w", name, kube.Explain(err))
		}
		orig, err := OriginalRules(obj)
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
	return r.accepted(ctx, rc, name, gen)
}

// accepted waits until the route's generation gen is accepted by every parent gateway.
func (r Routes) accepted(ctx context.Context, rc dynamic.ResourceInterface, name string, gen int64) error {
	deadline := r.Clock.Now().Add(acceptWithin)
	for {
		obj, err := rc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read HTTPRoute %s: %w", name, kube.Explain(err))
		}
		ok, rejected := Accepted(obj.Object, gen)
		switch {
		case ok:
			return nil
		case rejected != "":
			return fmt.Errorf("the gateway rejected HTTPRoute %s (generation %d): %s", name, gen, rejected)
		case r.Clock.Now().After(deadline):
			return fmt.Errorf("no gateway accepted HTTPRoute %s's generation %d within %s (is a gateway serving its parentRefs?)", name, gen, acceptWithin)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-r.Clock.After(50 * time.Millisecond):
		}
	}
}

// Split says whether Shepherd weights route now (its owner's rules are saved on it).
func (r Routes) Split(ctx context.Context, name string) (bool, error) {
	rc, err := r.client()
	if err != nil {
		return false, err
	}
	obj, err := rc.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil // gone: nothing of Shepherd's to put back
	} else if err != nil {
		return false, fmt.Errorf("read HTTPRoute %s: %w", name, kube.Explain(err))
	}
	_, ok := obj.GetAnnotations()[strategy.RouteRulesAnnotation]
	return ok, nil
}

// Restore puts route name back as its owner wrote it, if Shepherd weights it.
func (r Routes) Restore(ctx context.Context, name string) error {
	if split, err := r.Split(ctx, name); err != nil || !split {
		return err
	}
	return r.Write(ctx, name, Owners, true)
}

// Wait waits Settle: a change accepted is not yet a change served.
func (r Routes) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-r.Clock.After(Settle):
		return nil
	}
}

// Gateways is the Gateway API's Gateway resource (a route's parent, where it is served).
var Gateways = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// GatewayBase is the URL of the first parent Gateway's listener the route attaches to, from
// the Gateway's status (its first address), and the route's first exact hostname.
func (r Routes) GatewayBase(ctx context.Context, route string) (base, host string, err error) {
	obj, err := r.Get(ctx, route)
	if err != nil {
		return "", "", err
	}
	parents, _, _ := unstructured.NestedSlice(obj.Object, "spec", "parentRefs")
	if len(parents) == 0 {
		return "", "", fmt.Errorf("HTTPRoute %s has no parentRefs", route)
	}
	parent, _ := parents[0].(map[string]any)
	ns, _ := parent["namespace"].(string)
	gwName, _ := parent["name"].(string)
	gw, err := r.gatewayOf(ctx, words.OrDefault(ns, r.K.Namespace), gwName)
	if err != nil {
		return "", "", err
	}
	addrs, _, _ := unstructured.NestedSlice(gw.Object, "status", "addresses")
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	if len(addrs) == 0 || len(listeners) == 0 {
		return "", "", fmt.Errorf("the Gateway %s/%s publishes no address", gw.GetNamespace(), gw.GetName())
	}
	addr, _ := addrs[0].(map[string]any)["value"].(string)
	l := pickListener(listeners, parent)
	scheme := "http"
	if l["protocol"] == "HTTPS" {
		scheme = "https"
	}
	hosts, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "hostnames")
	for _, h := range hosts {
		if !strings.HasPrefix(h, "*") {
			host = h
			break
		}
	}
	return fmt.Sprintf("%s://%s:%d", scheme, addr, int64(number(l["port"]))), host, nil
}

// gatewayOf reads Gateway ns/name.
func (r Routes) gatewayOf(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	dc, err := r.K.Dynamic()
	if err != nil {
		return nil, err
	}
	gw, err := dc.Resource(Gateways).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("the Gateway %s/%s cannot be read: %w", ns, name, kube.Explain(err))
	}
	return gw, err
}

// pickListener is the listener a parentRef names (sectionName, or port), else the first.
func pickListener(listeners []any, parent map[string]any) map[string]any {
	first, _ := listeners[0].(map[string]any)
	for _, x := range listeners {
		l, _ := x.(map[string]any)
		if s, ok := parent["sectionName"].(string); ok && l["name"] == s {
			return l
		}
		if p, ok := parent["port"]; ok && number(p) == number(l["port"]) {
			return l
		}
	}
	return first
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
