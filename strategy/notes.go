package strategy

import "github.com/shepherd-deploy/shepherd/kube"

// NoteRoute, on the release's Lease, is the HTTPRoute a strategy weights or previews (a later
// run puts it back from there); RouteRulesAnnotation, on the route, holds its rules as its
// owner wrote them while Shepherd changes it.
const (
	NoteRoute            = kube.Prefix + "canary-route"
	RouteRulesAnnotation = kube.Prefix + "route-rules"
)
