package config

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Traffic is how live traffic reaches a new version: through the chart's Services (the
// replica split), or through a Gateway API HTTPRoute whose backendRefs Shepherd weights.
type Traffic struct {
	// TrafficRouter is RouterReplicas (the canary's share is its share of Ready pods) or
	// RouterGatewayAPI (exact weights on HTTPRoute HTTPRoute).
	TrafficRouter string
	// HTTPRoute names the HTTPRoute, in the release's namespace, whose backendRefs to the
	// chart's Services are weighted (gateway-api only).
	HTTPRoute string
	// PreviewHeader and PreviewValue: requests carrying this header with this value go to the
	// new version through the route before any weight moves ("": no preview rule).
	PreviewHeader, PreviewValue string
	// CanaryReplicas, when above 0, is how many pods each canary Deployment runs at every
	// stage instead of ceil(N × weight) (gateway-api only).
	CanaryReplicas int
}

// Traffic routers.
const (
	RouterReplicas   = "replicas"
	RouterGatewayAPI = "gateway-api"
)

// The traffic inputs.
const (
	InTrafficRouter  = "traffic_router"
	InHTTPRoute      = "http_route"
	InPreviewHeader  = "preview_header"
	InCanaryReplicas = "canary_replicas"
)

// GatewayAPI says whether traffic goes through an HTTPRoute.
func (t Traffic) GatewayAPI() bool { return t.TrafficRouter == RouterGatewayAPI }

// headerName is an HTTP header's name, as the Gateway API accepts it.
var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]{1,256}$`)

// trafficInputs reads traffic_router, http_route and preview_header ("Name: value");
// canary_replicas is read with the other whole numbers.
func (c *Config) trafficInputs(get func(string) string) []error {
	var errs []error
	if v := strings.TrimSpace(get(InTrafficRouter)); v != "" {
		c.TrafficRouter = strings.ToLower(v)
	}
	c.HTTPRoute = strings.TrimSpace(get(InHTTPRoute))
	if v := strings.TrimSpace(get(InPreviewHeader)); v != "" {
		name, value, ok := strings.Cut(v, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !headerName.MatchString(name) || value == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not NAME: VALUE (e.g. X-Canary: always)", InPreviewHeader, v))
		} else {
			c.PreviewHeader, c.PreviewValue = name, value
		}
	}
	return errs
}

// validate checks the traffic settings against each other and the strategy.
func (c Config) validateTraffic() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	t := c.Traffic
	switch t.TrafficRouter {
	case RouterReplicas, RouterGatewayAPI:
	default:
		bad("%s: %q is not one of %s, %s", InTrafficRouter, t.TrafficRouter, RouterReplicas, RouterGatewayAPI)
		return errs
	}
	if t.CanaryReplicas < 0 {
		bad("%s: must not be negative, got %d", InCanaryReplicas, t.CanaryReplicas)
	}
	if t.GatewayAPI() {
		if t.HTTPRoute == "" {
			bad("%s: required with %s: %s (the HTTPRoute, in namespace %s, whose backendRefs Shepherd weights)", InHTTPRoute, InTrafficRouter, RouterGatewayAPI, c.Namespace)
		} else if len(validation.IsDNS1123Subdomain(t.HTTPRoute)) > 0 {
			bad("%s: %q is not a Kubernetes object name", InHTTPRoute, t.HTTPRoute)
		}
		if c.Strategy == StrategyRolling {
			bad("%s: %s weights a canary or previews a blue-green colour; strategy %s has nothing to route (use %s)", InTrafficRouter, RouterGatewayAPI, StrategyRolling, RouterReplicas)
		}
		if c.Strategy == StrategyBlueGreen && t.CanaryReplicas > 0 {
			bad("%s: a canary's pods per stage; blue-green runs the new colour at N", InCanaryReplicas)
		}
		return errs
	}
	for in, set := range map[string]bool{InHTTPRoute: t.HTTPRoute != "", InPreviewHeader: t.PreviewHeader != "", InCanaryReplicas: t.CanaryReplicas > 0} {
		if set {
			bad("%s: only with %s: %s (it is %s)", in, InTrafficRouter, RouterGatewayAPI, t.TrafficRouter)
		}
	}
	return errs
}
