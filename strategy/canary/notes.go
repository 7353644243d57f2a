package canary

import "github.com/shepherd-deploy/shepherd/kube"

// The canary's notes on the release's Lease (the state a later run finishes from), beside the
// engine's phase, revision and strategy: the stage it reached (1-based), the stages and each
// stable Deployment's replica count planned from ("web=4,api=2"), the promotion revision while
// the stable track is upgraded, and a routed canary's canary_replicas and preview header
// ("NAME: VALUE").
const (
	NoteStage       = kube.Prefix + "canary-stage"
	NoteStages      = kube.Prefix + "canary-stages"
	NoteReplicas    = kube.Prefix + "canary-replicas"
	NotePromoting   = kube.Prefix + "canary-promoting"
	NoteCanaryScale = kube.Prefix + "canary-scale"
	NotePreview     = kube.Prefix + "canary-preview"
)

// Notes are the Lease notes the canary owns: another strategy's run clears them.
var Notes = []string{NoteStage, NoteStages, NoteReplicas, NotePromoting, NoteCanaryScale, NotePreview}
