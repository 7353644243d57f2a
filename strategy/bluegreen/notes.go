package bluegreen

import "github.com/shepherd-deploy/shepherd/kube"

// Blue-green's notes on the release's Lease (the state a later run finishes from), beside the
// engine's phase, revision and strategy: the colour it deployed, the colour that served before
// it, who switched traffic back (and why) while it held the lock, and the colour live traffic
// goes to (for a chart without Services).
const (
	NoteColor        = kube.Prefix + "color"
	NoteFromColor    = kube.Prefix + "from-color"
	NoteSwitchedBy   = kube.Prefix + "switched-by"
	NoteSwitchReason = kube.Prefix + "switch-reason"
	NoteActive       = kube.Prefix + "active-color"
)

// Notes are the Lease notes blue-green owns: another strategy's run clears them.
var Notes = []string{NoteColor, NoteFromColor, NoteSwitchedBy, NoteSwitchReason, NoteActive}
