package rewrite

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/release"
)

// Versioned config: the ConfigMaps and Secrets a Deployment's pods read (env valueFrom,
// envFrom, volumes, projected volumes) are copied per colour or track, named for it, with the
// references rewritten, so that the pods that serve never read a new version's config before
// that version is promoted (a mounted file changes in place, a restarted pod starts with it).

// configRef calls f with each place a pod template names a ConfigMap or Secret: m[key] holds
// the name, kind says which.
func ConfigRefs(deployment map[string]any, f func(kind string, m map[string]any, key string)) {
	spec := MapAt(deployment, "spec", "template", "spec")
	if spec == nil {
		return
	}
	for _, list := range []string{"initContainers", "containers"} {
		for _, c := range ListAt(spec, list) {
			for _, e := range ListAt(c, "env") {
				if ref := MapAt(e, "valueFrom", "configMapKeyRef"); ref != nil {
					f("ConfigMap", ref, "name")
				}
				if ref := MapAt(e, "valueFrom", "secretKeyRef"); ref != nil {
					f("Secret", ref, "name")
				}
			}
			for _, e := range ListAt(c, "envFrom") {
				if ref := MapAt(e, "configMapRef"); ref != nil {
					f("ConfigMap", ref, "name")
				}
				if ref := MapAt(e, "secretRef"); ref != nil {
					f("Secret", ref, "name")
				}
			}
		}
	}
	for _, v := range ListAt(spec, "volumes") {
		if ref := MapAt(v, "configMap"); ref != nil {
			f("ConfigMap", ref, "name")
		}
		if ref := MapAt(v, "secret"); ref != nil {
			f("Secret", ref, "secretName")
		}
		for _, src := range ListAt(MapAt(v, "projected"), "sources") {
			if ref := MapAt(src, "configMap"); ref != nil {
				f("ConfigMap", ref, "name")
			}
			if ref := MapAt(src, "secret"); ref != nil {
				f("Secret", ref, "name")
			}
		}
	}
}

// VersionConfig points a Deployment document's references to the config the manifest renders
// (rendered: "Kind/name") at their copies, <name><suffix>; it returns the copies it needs.
func VersionConfig(deployment map[string]any, rendered map[string]bool, suffix string) []string {
	var used []string
	ConfigRefs(deployment, func(kind string, m map[string]any, key string) {
		name, _ := m[key].(string)
		if !rendered[kind+"/"+name] {
			return // not the chart's (made by someone else): nothing to version
		}
		m[key] = name + suffix
		used = append(used, kind+"/"+name)
	})
	return used
}

// ConfigCopy is a ConfigMap or Secret document renamed <name><suffix>, with label key=value.
func ConfigCopy(raw, suffix, key, value string) (string, error) {
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(raw), &obj); err != nil {
		return "", err
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		return "", fmt.Errorf("a config document without metadata")
	}
	meta["name"] = fmt.Sprint(meta["name"]) + suffix
	SetPath(obj, []string{"metadata", "labels", key}, value)
	return Encode(obj), nil
}

// RenderedConfig are the manifest's ConfigMaps and Secrets, raw, by "Kind/name".
func RenderedConfig(resources []release.Resource) map[string]string {
	out := map[string]string{}
	for _, r := range resources {
		if (r.Kind == "ConfigMap" || r.Kind == "Secret") && r.APIVersion == "v1" {
			out[r.Kind+"/"+r.Name] = r.Raw
		}
	}
	return out
}

func Keys(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func MapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		if m == nil {
			return nil
		}
		m, _ = m[k].(map[string]any)
	}
	return m
}

func ListAt(m map[string]any, key string) []map[string]any {
	if m == nil {
		return nil
	}
	raw, _ := m[key].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		if xm, ok := x.(map[string]any); ok {
			out = append(out, xm)
		}
	}
	return out
}

// IsConfig reports whether a resource is a ConfigMap or Secret.
func IsConfig(kind, apiVersion string) bool {
	return (kind == "ConfigMap" || kind == "Secret") && apiVersion == "v1"
}

func SortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ConfigHashAnnotation, on a pod template, is the hash of the chart's config its pods read.
const ConfigHashAnnotation = "shepherd.io/config-hash"

// StampConfig gives each Deployment that reads the chart's ConfigMaps or Secrets the hash of
// their rendered content on its pod template (ConfigHashAnnotation): a promotion whose config
// alone changed still rolls the stable pods, which would otherwise keep the env they started
// with.
func StampConfig(rendered string) (string, error) {
	resources, err := release.SplitManifest(rendered)
	if err != nil {
		return "", err
	}
	cfgs := RenderedConfig(resources)
	docs, err := RewriteDeployments(rendered, func(_ string, obj map[string]any, _ *HPA) {
		read := map[string]bool{}
		ConfigRefs(obj, func(kind string, m map[string]any, key string) {
			name, _ := m[key].(string)
			if _, ok := cfgs[kind+"/"+name]; ok {
				read[kind+"/"+name] = true
			}
		})
		if len(read) == 0 {
			return
		}
		h := sha256.New()
		for _, k := range SortedKeys(read) {
			fmt.Fprintf(h, "%s\n%s\n", k, cfgs[k])
		}
		SetPath(obj, []string{"spec", "template", "metadata", "annotations", ConfigHashAnnotation}, hex.EncodeToString(h.Sum(nil))[:16])
	})
	if err != nil {
		return "", err
	}
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", nil
}
