package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	helmrelease "helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// MaxHistory is how many revisions Shepherd keeps per release (as `helm upgrade` does by default
// it prunes older ones), enough to cascade back through several bad releases.
const MaxHistory = 20

// Helm is the Helm SDK bound to one namespace, with the secret storage driver. Shepherd never
// lets Helm wait: it watches rollouts itself (health.Watcher), which notices failure in seconds.
type Helm struct {
	cfg       *action.Configuration
	namespace string
}

// New binds the Helm SDK to namespace. debug receives Helm's own log lines (may be nil).
func New(getter genericclioptions.RESTClientGetter, namespace string, debug func(format string, v ...any)) (*Helm, error) {
	if debug == nil {
		debug = func(string, ...any) {}
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(getter, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return &Helm{cfg: cfg, namespace: namespace}, nil
}

// History returns the release's revisions, oldest first; none (and no error) for a release
// that does not exist yet.
func (h *Helm) History(name string) ([]*helmrelease.Release, error) {
	rels, err := h.cfg.Releases.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("helm history %s: %w", name, err)
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].Version < rels[j].Version })
	return rels, nil
}

// UpgradeOptions shapes one upgrade.
type UpgradeOptions struct {
	DryRun      bool   // render only (client side), write nothing
	Description string // recorded on the new revision
	// PostRender, when set, transforms the rendered manifest before Helm applies and records
	// it (a Helm post-renderer, in process).
	PostRender func(manifest string) (string, error)
	// Labels are stored with the revision (Helm release labels), e.g. the colour it deployed.
	Labels map[string]string
}

// postRenderer adapts a function to Helm's postrender.PostRenderer.
type postRenderer func(string) (string, error)

func (p postRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	out, err := p(in.String())
	if err != nil {
		return nil, err
	}
	return bytes.NewBufferString(out), nil
}

// Upgrade installs the chart as release name, or upgrades it when it exists (upgrade --install),
// without waiting for the rollout.
func (h *Helm) Upgrade(ctx context.Context, name string, ch *chart.Chart, vals map[string]any, o UpgradeOptions) (*helmrelease.Release, error) {
	hist, err := h.History(name)
	if err != nil {
		return nil, err
	}
	if len(hist) == 0 {
		in := action.NewInstall(h.cfg)
		in.ReleaseName, in.Namespace, in.DryRun, in.Description = name, h.namespace, o.DryRun, o.Description
		if o.PostRender != nil {
			in.PostRenderer = postRenderer(o.PostRender)
		}
		in.Labels = o.Labels
		if o.DryRun {
			in.DryRunOption = "client"
		}
		rel, err := in.RunWithContext(ctx, ch, vals)
		if err != nil {
			return nil, fmt.Errorf("helm install %s: %w", name, err)
		}
		return rel, nil
	}
	up := action.NewUpgrade(h.cfg)
	up.Namespace, up.DryRun, up.Description, up.MaxHistory = h.namespace, o.DryRun, o.Description, MaxHistory
	if o.PostRender != nil {
		up.PostRenderer = postRenderer(o.PostRender)
	}
	up.Labels = UpgradeLabels(o.Labels, hist[len(hist)-1].Labels)
	if o.DryRun {
		up.DryRunOption = "client"
	}
	rel, err := up.RunWithContext(ctx, name, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade %s: %w", name, err)
	}
	return rel, nil
}

// LabelPrefix begins the revision labels Shepherd owns (a blue-green colour, a canary's track).
const LabelPrefix = "shepherd.io/"

// UpgradeLabels are the labels an upgrade asks for over a last revision labelled last. Helm's
// upgrade copies the last revision's labels forward, so a label of Shepherd's the upgrade does
// not ask for again — a canary's track on the rolling deploy after it — is removed (Helm's
// "null"); another tool's labels are left as Helm keeps them.
func UpgradeLabels(asked, last map[string]string) map[string]string {
	out := map[string]string{}
	for k := range last {
		if _, again := asked[k]; !again && strings.HasPrefix(k, LabelPrefix) {
			out[k] = "null"
		}
	}
	for k, v := range asked {
		out[k] = v
	}
	return out
}

// Rollback rolls release name back to revision (a new revision with that one's manifest),
// without waiting, records description on the new revision and returns it.
func (h *Helm) Rollback(ctx context.Context, name string, revision int, description string) (*helmrelease.Release, error) {
	rb := action.NewRollback(h.cfg)
	rb.Version, rb.MaxHistory = revision, MaxHistory
	if err := rb.Run(name); err != nil {
		return nil, fmt.Errorf("helm rollback %s to %d: %w", name, revision, err)
	}
	rel, err := h.cfg.Releases.Last(name)
	if err != nil {
		return nil, err
	}
	if description != "" {
		rel.Info.Description = description
		if err := h.cfg.Releases.Update(rel); err != nil {
			return nil, err
		}
	}
	return rel, nil
}

// MarkFailed marks a revision failed with a description, so that Helm history tells the truth
// and LastGood never picks it.
func (h *Helm) MarkFailed(name string, revision int, description string) error {
	return h.SetStatus(name, revision, helmrelease.StatusFailed, description)
}

// SetStatus records a revision's status and description (history is never rewritten
// otherwise): how a blue-green switch, which is not a Helm operation, shows in helm history.
func (h *Helm) SetStatus(name string, revision int, status helmrelease.Status, description string) error {
	rel, err := h.cfg.Releases.Get(name, revision)
	if err != nil {
		return err
	}
	rel.SetStatus(status, description)
	return h.cfg.Releases.Update(rel)
}

// LastGood returns the newest revision older than before that was deployed successfully
// (status deployed or superseded) — not simply before−1, which may itself have failed — and
// that differs from revision before: a revision rendering the same manifest (say, an earlier
// rollback's copy of it) would change nothing, or fail the same way. A revision notOwn says is
// no version of its own (a strategy's intermediate state, such as a canary's) is passed over.
func LastGood(history []*helmrelease.Release, before int, notOwn func(*helmrelease.Release) bool) *helmrelease.Release {
	var best *helmrelease.Release
	leaving := ""
	for _, r := range history {
		if r.Version == before {
			leaving = r.Manifest
		}
	}
	for _, r := range history {
		if r.Version >= before || r.Info == nil || (leaving != "" && r.Manifest == leaving) {
			continue
		}
		if s := r.Info.Status; s != helmrelease.StatusDeployed && s != helmrelease.StatusSuperseded {
			continue
		}
		if notOwn != nil && notOwn(r) {
			continue
		}
		if best == nil || r.Version > best.Version {
			best = r
		}
	}
	return best
}

// Values merges values files, then --set lines, then the image tag at tagKey (when tag is not
// empty), as `helm upgrade -f … --set …` would.
func Values(files, set []string, tagKey, tag string) (map[string]any, error) {
	opts := values.Options{ValueFiles: files, Values: set}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, err
	}
	if tag != "" {
		// --set-string: --set would type a tag like 1.10 as a number; a tag is always a string.
		if err := strvals.ParseIntoString(tagKey+"="+tag, vals); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// ManifestOf is revision rev's manifest in hist ("" when hist does not hold it).
func ManifestOf(hist []*helmrelease.Release, rev int) string {
	for _, h := range hist {
		if h.Version == rev {
			return h.Manifest
		}
	}
	return ""
}
