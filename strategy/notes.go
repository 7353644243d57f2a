package strategy

import "github.com/shepherd-deploy/shepherd/kube"

// The strategies' notes on the release's Lease (the state a later run finishes from), beside
// the engine's phase, revision and strategy.
const (
	// Blue-green: the colour it deployed, the colour that served before it, and who switched
	// traffic back (and why) while it held the lock.
	NoteColor        = kube.Prefix + "color"
	NoteFromColor    = kube.Prefix + "from-color"
	NoteSwitchedBy   = kube.Prefix + "switched-by"
	NoteSwitchReason = kube.Prefix + "switch-reason"
	// NoteActive is the colour live traffic goes to (for a chart without Services).
	NoteActive = kube.Prefix + "active-color"
	// Canary: the stage it reached (1-based), the stages and each stable Deployment's replica
	// count planned from ("web=4,api=2"), and the promotion revision while the stable track
	// is upgraded.
	NoteStage     = kube.Prefix + "canary-stage"
	NoteStages    = kube.Prefix + "canary-stages"
	NoteReplicas  = kube.Prefix + "canary-replicas"
	NotePromoting = kube.Prefix + "canary-promoting"
)

// A routed canary's notes: the HTTPRoute it weights, canary_replicas, and the preview header
// ("NAME: VALUE"); and the annotation on the route that holds the rules as its owner wrote
// them while Shepherd weights it (any later run puts them back from there).
const (
	NoteRoute            = kube.Prefix + "canary-route"
	NoteCanaryScale      = kube.Prefix + "canary-scale"
	NotePreview          = kube.Prefix + "canary-preview"
	RouteRulesAnnotation = kube.Prefix + "route-rules"
)
