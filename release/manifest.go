// Package release wraps the Helm SDK: upgrades, history, rollbacks, and what Shepherd reads from rendered manifests.
package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// sourcePrefix starts the comment Helm writes at the top of every rendered document.
const sourcePrefix = "# Source: "

// Resource is one object of a rendered manifest.
type Resource struct {
	// Source is the template path from the document's "# Source: chart/templates/x.yaml"
	// comment; empty when the document has none.
	Source string
	// Kind, Name, Namespace and APIVersion come from the object; Namespace is empty when
	// the document doesn't set it (the object then goes to the release namespace).
	Kind, Name, Namespace, APIVersion string
	// Raw is the YAML text of the document, without the "---" separator and the
	// "# Source:" comment line, and without leading or trailing blank lines. For an item
	// of a v1 List, it is the item re-encoded as YAML (keys sorted).
	Raw string
}

// SplitManifest splits a Helm release manifest (documents separated by "---" lines, each
// usually opened by a "# Source:" comment) into resources, in manifest order. Documents
// with nothing but comments and whitespace are skipped, and the items of a v1 List are
// returned as resources of their own (as Helm applies them). A document that is not valid
// YAML, not a mapping, or has no kind is an error naming its source.
func SplitManifest(manifest string) ([]Resource, error) {
	var out []Resource
	n := 0
	for _, doc := range splitDocuments(manifest) { // Helm's own split, in manifest order
		source, raw := extractSource(doc)
		js, err := yaml.YAMLToJSON([]byte(raw))
		if err != nil {
			return nil, docError(n+1, source, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue // an empty document, e.g. a template whose content is switched off
		}
		n++
		rs, err := decodeResource(js, source, raw)
		if err != nil {
			return nil, docError(n, source, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Deployments returns the Deployments (apps group) in the manifest, decoded, in manifest
// order.
func Deployments(manifest string) ([]appsv1.Deployment, error) {
	resources, err := SplitManifest(manifest)
	if err != nil {
		return nil, err
	}
	var out []appsv1.Deployment
	for _, r := range resources {
		if r.Kind != "Deployment" || apiGroup(r.APIVersion) != "apps" {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(r.Raw), &d); err != nil {
			return nil, fmt.Errorf("decoding Deployment %s: %w", r.Name, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Workloads are the names of the workloads a manifest rolls out, by kind (apps group only).
type Workloads struct {
	Deployments, StatefulSets, DaemonSets []string
}

// Empty reports whether the manifest has no workload at all.
func (w Workloads) Empty() bool {
	return len(w.Deployments)+len(w.StatefulSets)+len(w.DaemonSets) == 0
}

// Each calls f with every workload's kind and name.
func (w Workloads) Each(f func(kind, name string)) {
	for _, k := range []struct {
		kind  string
		names []string
	}{{"Deployment", w.Deployments}, {"StatefulSet", w.StatefulSets}, {"DaemonSet", w.DaemonSets}} {
		for _, n := range k.names {
			f(k.kind, n)
		}
	}
}

// WorkloadsOf returns the Deployments, StatefulSets and DaemonSets (apps group) in the
// manifest, in manifest order.
func WorkloadsOf(manifest string) (Workloads, error) {
	resources, err := SplitManifest(manifest)
	if err != nil {
		return Workloads{}, err
	}
	var w Workloads
	for _, r := range resources {
		if apiGroup(r.APIVersion) != "apps" {
			continue
		}
		switch r.Kind {
		case "Deployment":
			w.Deployments = append(w.Deployments, r.Name)
		case "StatefulSet":
			w.StatefulSets = append(w.StatefulSets, r.Name)
		case "DaemonSet":
			w.DaemonSets = append(w.DaemonSets, r.Name)
		}
	}
	return w, nil
}

// Images lists the container images of the manifest's workloads (Deployments, StatefulSets,
// DaemonSets, Jobs, CronJobs, Pods), each once, in manifest order. A manifest that does not
// parse gives none.
func Images(manifest string) []string {
	resources, err := SplitManifest(manifest)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range resources {
		spec, err := podSpecOf(r)
		if err != nil || spec == nil {
			continue
		}
		for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
			if c.Image != "" && !seen[c.Image] {
				seen[c.Image] = true
				out = append(out, c.Image)
			}
		}
	}
	return out
}

// objectMeta is the part of an object SplitManifest reads.
type objectMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// decodeResource reads one non-empty document (as JSON), expanding a v1 List into its items.
func decodeResource(js []byte, source, raw string) ([]Resource, error) {
	var m objectMeta
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	if m.Kind == "" {
		return nil, errors.New("no kind")
	}
	if m.Kind != "List" || m.APIVersion != "v1" {
		return []Resource{{
			Source: source, Kind: m.Kind, Name: m.Metadata.Name, Namespace: m.Metadata.Namespace,
			APIVersion: m.APIVersion, Raw: raw,
		}}, nil
	}
	var out []Resource
	for i, item := range m.Items {
		y, err := yaml.JSONToYAML(item)
		if err != nil {
			return nil, fmt.Errorf("item %d of List: %w", i+1, err)
		}
		rs, err := decodeResource(item, source, strings.TrimRight(string(y), "\n"))
		if err != nil {
			return nil, fmt.Errorf("item %d of List: %w", i+1, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

func docError(n int, source string, err error) error {
	if source != "" {
		return fmt.Errorf("manifest document %d (%s): %w", n, source, err)
	}
	return fmt.Errorf("manifest document %d: %w", n, err)
}

// splitDocuments cuts a multi-document YAML stream at its "---" separators as Helm does
// (releaseutil.SplitManifests), in stream order.
func splitDocuments(manifest string) []string {
	docs := releaseutil.SplitManifests(strings.ReplaceAll(manifest, "\r\n", "\n"))
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	out := make([]string, len(keys))
	for i, k := range keys {
		// Back-to-back separators ("---\n---") leave the second at the start of a document.
		d := docs[k]
		for {
			rest, ok := strings.CutPrefix(d, "---")
			if !ok || (rest != "" && rest[0] != '\n' && rest[0] != ' ' && rest[0] != '\t') {
				break
			}
			d = strings.TrimLeft(rest, " \t\n")
		}
		out[i] = d
	}
	return out
}

// extractSource finds the "# Source:" comment among the document's leading comment lines,
// and returns its path and the document without that line or surrounding blank lines.
func extractSource(doc string) (source, raw string) {
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if !strings.HasPrefix(t, "#") {
			break
		}
		if p, ok := strings.CutPrefix(t, sourcePrefix); ok {
			source = strings.TrimSpace(p)
			lines = append(lines[:i:i], lines[i+1:]...)
			break
		}
	}
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	return source, strings.TrimRight(strings.Join(lines, "\n"), " \t\n")
}

// apiGroup returns the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func apiGroup(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}
