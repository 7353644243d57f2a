package deploy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
	"github.com/shepherd-deploy/shepherd/strategy/route"
)

// A blue-green release's HTTPRoute previews the idle colour: requests carrying preview_header
// go to its <svc>-preview Services before the switch, and the smoke tests ask through it.

// gateways is the Gateway API's Gateway resource (a route's parent, where it is served).
var gateways = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// smokeVia is where the smoke tests ask when a route previews the colour: the gateway's
// address (base, "" when it publishes none), and the headers that reach the preview.
type smokeVia struct {
	base, where string
	header      http.Header
}

// releaseRoute is the HTTPRoute this run's work weights or previews: the input's, or the one an
// earlier run recorded on the release's Lease ("": none).
func (r *run) releaseRoute() string {
	if r.cfg.GatewayAPI() {
		return r.cfg.HTTPRoute
	}
	if r.lock != nil {
		return r.lock.Previous.Notes[strategy.NoteRoute]
	}
	return ""
}

// previewRoute writes the preview rules for colour col on the route (when preview_header is
// set) and returns where its smoke tests ask; a route the gateway refuses is the signal.
func (c *cluster) previewRoute(ctx context.Context, col strategy.Color) (*smokeVia, *diagnose.Signal) {
	r, p := c.r, c.pf
	if p == nil || p.colors == nil || p.colors.route == "" || r.cfg.PreviewHeader == "" {
		return nil, nil
	}
	route, routed := p.colors.route, p.colors.routed
	rules := func(spec map[string]any) (map[string]any, error) {
		var err error
		for _, svc := range routed {
			if spec, err = strategy.PreviewRoute(spec, svc, svc+strategy.PreviewSuffix, r.cfg.PreviewHeader, r.cfg.PreviewValue); err != nil {
				return nil, err
			}
		}
		return spec, nil
	}
	if err := r.httpRoutes().Write(ctx, route, rules, false); err != nil {
		return nil, &diagnose.Signal{Category: diagnose.Config, Object: "HTTPRoute/" + route, Reason: "PreviewRejected", Message: err.Error()}
	}
	r.event(ctx, "smoke", Info, "HTTPRoute %s sends requests with %s: %s to %s (%s), before any switch", route, r.cfg.PreviewHeader, r.cfg.PreviewValue, col,
		strings.Join(suffixed(routed, strategy.PreviewSuffix), ", "))
	if err := r.httpRoutes().Wait(ctx); err != nil { // accepted is not yet served: the smoke tests must reach col, not the live colour
		return nil, smokeSignal("HTTPRoute/"+route, "%v", err)
	}
	via := &smokeVia{header: http.Header{r.cfg.PreviewHeader: {r.cfg.PreviewValue}}}
	if base, host, err := r.gatewayBase(ctx, route); err != nil {
		r.event(ctx, "smoke", Warn, "the smoke tests ask through a port-forward: %v", err)
	} else {
		via.base, via.where = base, fmt.Sprintf("the gateway at %s (HTTPRoute %s, %s: %s)", base, route, r.cfg.PreviewHeader, r.cfg.PreviewValue)
		if host != "" {
			via.header.Set("Host", host)
		}
	}
	return via, nil
}

// unpreview puts the release's route back as its owner wrote it, if Shepherd changed it; a
// failure is a warning (the preview rule sends only requests carrying the header).
func (r *run) unpreview(ctx context.Context) {
	route := r.releaseRoute()
	if route == "" {
		return
	}
	if err := r.httpRoutes().Restore(ctx, route); err != nil {
		r.event(ctx, "switch", Warn, "HTTPRoute %s keeps its preview rule: %v", route, err)
	}
}

// gatewayBase is the URL of the first parent Gateway's listener the route attaches to, from
// the Gateway's status (its first address), and the route's first exact hostname.
func (r *run) gatewayBase(ctx context.Context, route string) (base, host string, err error) {
	obj, err := r.httpRoutes().Get(ctx, route)
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
	gw, err := r.gatewayOf(ctx, words.OrDefault(ns, r.cfg.Namespace), gwName)
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
func (r *run) gatewayOf(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	dc, err := r.dynamic()
	if err != nil {
		return nil, err
	}
	gw, err := dc.Resource(gateways).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
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

// mergeHeaders is a and b together (b's values win).
func mergeHeaders(a, b http.Header) http.Header {
	out := http.Header{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out
}

func suffixed(names []string, suffix string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + suffix
	}
	return out
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

// httpRoutes is the namespace's HTTPRoutes through the run's credentials.
func (r *run) httpRoutes() route.Routes {
	return route.Routes{K: session{r: r}.Kube(), Clock: r.d.Clock}
}

// dynamic is a dynamic client with the run's credentials.
func (r *run) dynamic() (dynamic.Interface, error) {
	if r.d.Dynamic != nil {
		return r.d.Dynamic, nil
	}
	return dynamic.NewForConfig(r.d.Clients.Config)
}
