package canary

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/release"
)

// PodTemplateHash is the label a Deployment's controller puts on each ReplicaSet's pods: the
// stable track's pods are the ones carrying its current value.
const PodTemplateHash = "pod-template-hash"

// Suffixes of the Services a canary routed by an HTTPRoute renders beside the chart's.
const (
	StableServiceSuffix = "-stable"
	CanaryServiceSuffix = "-canary"
)

// The track label's value on a routed canary's stable Service (its canary Service carries
// TrackCanary).
const TrackStable = "stable"

// TrackServices adds, for each of the chart's Services in svcs (the ones an HTTPRoute sends
// to), two ClusterIP twins a route can weight: <svc>-stable, selecting the stable track's pods
// (the Service's selector plus the pod-template-hash its stable Deployment runs now, from
// hashes by Deployment name), and <svc>-canary, selecting the canary's (the selector plus
// shepherd.io/track: canary). A Service whose selector matches no stable Deployment, or
// several, cannot be split by track: that is an error naming them.
func TrackServices(manifest string, svcs []string, hashes map[string]string) (string, error) {
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return "", err
	}
	templates := map[string]map[string]any{} // the stable Deployments' pod labels, by name
	services := map[string]map[string]any{}
	for _, r := range resources {
		var obj map[string]any
		if r.Kind != "Deployment" && r.Kind != "Service" {
			continue
		}
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return "", fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		if r.Kind == "Service" {
			services[r.Name] = obj
		} else if lbls := rewrite.MapAt(obj, "spec", "template", "metadata", "labels"); lbls[TrackLabel] != TrackCanary {
			templates[r.Name] = lbls
		}
	}
	docs := []string{strings.TrimRight(manifest, "\n")}
	for _, name := range svcs {
		svc, ok := services[name]
		if !ok {
			return "", fmt.Errorf("the chart renders no Service %s", name)
		}
		dep, err := selectedDeployment(name, rewrite.MapAt(svc, "spec", "selector"), templates)
		if err != nil {
			return "", err
		}
		hash := hashes[dep]
		if hash == "" {
			return "", fmt.Errorf("the Service %s: the stable Deployment %s runs no ReplicaSet yet (no %s to select its pods by)", name, dep, PodTemplateHash)
		}
		docs = append(docs, rewrite.Encode(trackService(svc, StableServiceSuffix, TrackStable, PodTemplateHash, hash)),
			rewrite.Encode(trackService(svc, CanaryServiceSuffix, TrackCanary, TrackLabel, TrackCanary)))
	}
	return strings.Join(docs, "\n---\n") + "\n", nil
}

// selectedDeployment is the one stable Deployment whose pods a Service's selector matches.
func selectedDeployment(svc string, sel map[string]any, templates map[string]map[string]any) (string, error) {
	if len(sel) == 0 {
		return "", fmt.Errorf("the Service %s has no selector: a route cannot weight its tracks", svc)
	}
	var found []string
	for dep, lbls := range templates {
		match := true
		for k, v := range sel {
			if lbls[k] != v {
				match = false
				break
			}
		}
		if match {
			found = append(found, dep)
		}
	}
	sort.Strings(found)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("the Service %s selects the pods of no Deployment of the chart", svc)
	}
	return "", fmt.Errorf("the Service %s selects the pods of %s: a route weights the two tracks of one Deployment per Service", svc, strings.Join(found, ", "))
}

// trackService is a ClusterIP twin of a Service named <name><suffix>, labelled with its track,
// whose selector also requires key=value.
func trackService(svc map[string]any, suffix, track, key, value string) map[string]any {
	p := rewrite.TwinService(svc, suffix)
	rewrite.SetPath(p, []string{"metadata", "labels", TrackLabel}, track)
	spec := p["spec"].(map[string]any)
	delete(spec, "sessionAffinity")
	spec["selector"].(map[string]any)[key] = value
	return p
}

// RoutedServices are the chart Services a manifest renders track twins of (the route's
// backends while a canary runs), sorted.
func RoutedServices(manifest string) ([]string, error) {
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range resources {
		if r.Kind != "Service" || !strings.HasSuffix(r.Name, CanaryServiceSuffix) {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		if rewrite.MapAt(obj, "metadata", "labels")[TrackLabel] == TrackCanary {
			out = append(out, strings.TrimSuffix(r.Name, CanaryServiceSuffix))
		}
	}
	sort.Strings(out)
	return out, nil
}

// TrackServiceDocs are a manifest's track twins of the chart's Services (TrackServices), as
// applied: a promotion keeps them while the route still sends to them.
func TrackServiceDocs(manifest string) ([]string, error) {
	routed, err := RoutedServices(manifest)
	if err != nil {
		return nil, err
	}
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range resources {
		for _, svc := range routed {
			if r.Kind == "Service" && (r.Name == svc+StableServiceSuffix || r.Name == svc+CanaryServiceSuffix) {
				out = append(out, r.Raw)
			}
		}
	}
	return out, nil
}

// WithRouteRules returns manifest with HTTPRoute name's rules and annotations (when the chart
// renders that route) replaced by the live route's: Helm's upgrade then leaves the weights
// Shepherd set as they are, instead of putting the chart's rules back mid-promotion.
func WithRouteRules(manifest, name string, rules []any, annotations map[string]string) (string, error) {
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return "", err
	}
	docs := make([]string, 0, len(resources))
	for _, r := range resources {
		if r.Kind != "HTTPRoute" || r.Name != name {
			docs = append(docs, r.Raw)
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return "", fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		for k, v := range annotations {
			rewrite.SetPath(obj, []string{"metadata", "annotations", k}, v)
		}
		if spec, ok := obj["spec"].(map[string]any); ok {
			spec["rules"] = rules
		}
		docs = append(docs, rewrite.Encode(obj))
	}
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", nil
}
