package canary

import (
	"fmt"
	"sort"
	"strings"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/release"
)

// The pure half of the canary: what a release's manifest holds as tracks, and how a chart's
// rendered manifest becomes a canary's (and a promotion's), for a Helm post-renderer. Any
// chart works unchanged: the stable track is the chart's own Deployments, names unchanged; the
// canary track is <name>-canary, whose pods carry the labels the chart's Services select plus
// shepherd.io/track: canary, so traffic splits by ready replicas through the same Services.

// The track label (on the canary's objects, and on a canary's Helm revision as a release
// label) and the canary's name suffix.
const (
	TrackLabel   = "shepherd.io/track"
	TrackCanary  = "canary"
	CanarySuffix = "-canary"
)

// TrackPromoted is the track label of a promotion's Helm revision: the stable track on the
// canary's version, its manifest keeping the canary's Deployments at the replicas they served
// with. Helm's upgrade gives a revision the labels of the one before unless it sets them, so
// without it the promotion's revision would read as a canary's.
const TrackPromoted = "promoted"

// NotAVersion says that a Helm revision is no version of its own to go back to: a canary's,
// which ran the stable track beside the canary, or a promotion's, which would bring the
// canary's Deployments back (release.LastGood passes it over).
func NotAVersion(r *helmrelease.Release) bool {
	return r.Labels[TrackLabel] == TrackCanary || r.Labels[TrackLabel] == TrackPromoted
}

// ranCanary says that a Helm revision ran a canary beside the stable track: not what the
// stable track runs.
func ranCanary(r *helmrelease.Release) bool { return r.Labels[TrackLabel] == TrackCanary }

// TrackLayout is what a release's manifest holds, as the canary sees it.
type TrackLayout struct {
	// Stable are the stable track's Deployment documents as applied, by name.
	Stable map[string]string
	// Canary are the canary track's Deployment documents as applied, by stable name.
	Canary map[string]string
	// Replicas are the replicas each stable Deployment's document asks for, by name.
	Replicas map[string]int
	// Unsplittable names the StatefulSets and DaemonSets: they cannot run as two tracks.
	Unsplittable []string
	// HPAs are the HPAs that scale a stable Deployment, by its name.
	HPAs map[string]rewrite.HPA
	// Config are the ConfigMaps and Secrets as applied, by "Kind/name": the chart's own (the
	// stable track's), and the canary's copies (CanaryConfig, labelled with the track).
	Config, CanaryConfig map[string]string
	// Routed are the chart Services the revision renders track twins of (a canary weighted
	// on an HTTPRoute; see TrackServices), sorted.
	Routed []string
}

// Names are the stable Deployments' names, sorted.
func (l TrackLayout) Names() []string {
	out := make([]string, 0, len(l.Stable))
	for n := range l.Stable {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ReadTracks reads a manifest (rendered, or as a revision applied it).
func ReadTracks(manifest string) (TrackLayout, error) {
	l := TrackLayout{Stable: map[string]string{}, Canary: map[string]string{}, Replicas: map[string]int{}}
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return l, err
	}
	l.Config, l.CanaryConfig = map[string]string{}, map[string]string{}
	for _, r := range resources {
		if rewrite.IsConfig(r.Kind, r.APIVersion) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
				return l, fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
			}
			if lbls := rewrite.MapAt(obj, "metadata", "labels"); lbls[TrackLabel] == TrackCanary {
				l.CanaryConfig[r.Kind+"/"+r.Name] = r.Raw
			} else {
				l.Config[r.Kind+"/"+r.Name] = r.Raw
			}
			continue
		}
		if !strings.HasPrefix(r.APIVersion, "apps/") {
			continue
		}
		if r.Kind == "StatefulSet" || r.Kind == "DaemonSet" {
			l.Unsplittable = append(l.Unsplittable, r.Kind+"/"+r.Name)
		}
		if r.Kind != "Deployment" {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return l, fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		meta, _ := obj["metadata"].(map[string]any)
		lbls, _ := meta["labels"].(map[string]any)
		if lbls[TrackLabel] == TrackCanary {
			l.Canary[strings.TrimSuffix(r.Name, CanarySuffix)] = r.Raw
			continue
		}
		l.Stable[r.Name] = r.Raw
		l.Replicas[r.Name] = rewrite.ReplicasOf(obj)
	}
	hpas, err := rewrite.ReadHPAs(manifest)
	if err != nil {
		return l, err
	}
	if l.Routed, err = RoutedServices(manifest); err != nil {
		return l, err
	}
	l.HPAs = map[string]rewrite.HPA{}
	for name, h := range hpas {
		if _, ok := l.Stable[name]; ok {
			l.HPAs[name] = h
		}
	}
	return l, nil
}

// Canarize turns the chart's rendered manifest (the new version) into what Helm applies to
// start a canary while stable (the stable track's documents, as the latest revision applied
// them) serves:
//
//   - each apps/v1 Deployment of the chart stays as stable applied it (Helm leaves it alone)
//     and gains a twin <name>-canary of the new version at zero replicas, its labels, selector
//     and pod template carrying shepherd.io/track: canary;
//   - everything else is left as the chart rendered it.
//
// A Deployment new in this version has no stable track to compare with: that is an error.
func Canarize(rendered string, stable map[string]string, stableConfig map[string]string) (string, error) {
	resources, err := release.SplitManifest(rendered)
	if err != nil {
		return "", err
	}
	cfgs := rewrite.RenderedConfig(resources)
	versioned := map[string]bool{}
	var docs []string
	for _, r := range resources {
		if kept, ok := stableConfig[r.Kind+"/"+r.Name]; ok && rewrite.IsConfig(r.Kind, r.APIVersion) {
			docs = append(docs, kept) // the stable track's pods read it: as it was until promotion
			continue
		}
		if r.Kind != "Deployment" || !strings.HasPrefix(r.APIVersion, "apps/") {
			docs = append(docs, r.Raw)
			continue
		}
		kept, ok := stable[r.Name]
		if !ok {
			return "", fmt.Errorf("canary: Deployment %s is new in this version: there is no stable %s to run a canary beside (deploy it once with strategy rolling)", r.Name, r.Name)
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return "", fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		canaryDeployment(obj)
		for _, k := range rewrite.VersionConfig(obj, rewrite.Keys(cfgs), CanarySuffix) {
			versioned[k] = true
		}
		docs = append(docs, kept, rewrite.Encode(obj))
	}
	for _, k := range rewrite.SortedKeys(versioned) {
		c, err := rewrite.ConfigCopy(cfgs[k], CanarySuffix, TrackLabel, TrackCanary)
		if err != nil {
			return "", fmt.Errorf("%s: %w", k, err)
		}
		docs = append(docs, c)
	}
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", nil
}

// canaryDeployment renames a Deployment to <name>-canary at zero replicas, the track label on
// its labels, selector and pod template.
func canaryDeployment(obj map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	meta["name"] = fmt.Sprint(meta["name"]) + CanarySuffix
	rewrite.SetPath(obj, []string{"metadata", "labels", TrackLabel}, TrackCanary)
	rewrite.SetPath(obj, []string{"spec", "selector", "matchLabels", TrackLabel}, TrackCanary)
	rewrite.SetPath(obj, []string{"spec", "template", "metadata", "labels", TrackLabel}, TrackCanary)
	obj["spec"].(map[string]any)["replicas"] = 0
}

// Promoted turns the chart's rendered manifest (the canary's version) into what Helm applies to
// promote it: the chart as rendered — the stable track on the new version — plus the canary
// documents (as the canary's revision applied them) at the replicas they run now (live), so the
// canary keeps serving until the stable track is ready.
//
// The canary's copies of config (canaryConfig, as applied) stay too: its pods read them.
func Promoted(rendered string, canary map[string]string, live map[string]int, canaryConfig map[string]string) (string, error) {
	if _, err := release.SplitManifest(rendered); err != nil {
		return "", err
	}
	docs := []string{strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rendered), "---"))}
	names := make([]string, 0, len(canary))
	for n := range canary {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(canary[n]), &obj); err != nil {
			return "", fmt.Errorf("canary Deployment %s%s: %w", n, CanarySuffix, err)
		}
		obj["spec"].(map[string]any)["replicas"] = live[n]
		docs = append(docs, rewrite.Encode(obj))
	}
	for _, k := range rewrite.SortedKeys(rewrite.Keys(canaryConfig)) {
		docs = append(docs, canaryConfig[k])
	}
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", nil
}

// maxGeneratedBase is how much of a generateName the API server keeps: 63 characters less the
// 5 random ones it appends.
const maxGeneratedBase = 58

// PodPattern is a regular expression (RE2, as PromQL's =~ takes it, anchored) matching the
// names of the pods of the ReplicaSets named, as the API server generates them: the ReplicaSet's
// name and a dash, cut to 58 characters, then 5 random ones. The cut matters for long names
// (a Deployment past about 40 characters): a pattern built from the Deployment's name and
// "-<hash>-<suffix>" matches nothing there. An empty list matches no pod name.
func PodPattern(replicaSets []string) string {
	if len(replicaSets) == 0 {
		return "^$"
	}
	alts := make([]string, len(replicaSets))
	for i, rs := range replicaSets {
		base := rs + "-"
		if len(base) > maxGeneratedBase {
			base = base[:maxGeneratedBase]
		}
		alts[i] = strings.NewReplacer(".", `\\.`).Replace(base) + "[a-z0-9]{5}"
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, "|") + ")"
}
