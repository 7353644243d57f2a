package release

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Ref is a reference from a workload to a Secret or ConfigMap (optionally one key in it).
type Ref struct {
	Kind string // "Secret" or "ConfigMap"
	Name string
	// Namespace is the referencing workload's namespace as the manifest sets it; empty
	// means the release namespace. A Ref always points into its workload's namespace.
	Namespace string
	Key       string // empty when the whole object is referenced
	// Optional is true when the pod starts without the object or key (optional: true).
	Optional bool
	From     string // human-readable origin, e.g. "Deployment/web container app env DATABASE_URL"
}

// References returns every Secret and ConfigMap reference in the pod templates of the
// manifest's Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and Pods:
// env[].valueFrom.secretKeyRef/configMapKeyRef, envFrom[].secretRef/configMapRef,
// volumes[].secret/configMap and projected volume sources (one Ref per listed item key,
// or one for the whole object when no items are listed), and imagePullSecrets (Kind
// Secret, no key), of init containers and containers alike.
//
// Secrets and ConfigMaps that the manifest itself defines are left out, since the release
// creates them (a namespace on only one side matches any). References are deduplicated
// on Kind, Namespace, Name and Key, keeping the first one's position and From; a
// duplicate that is required makes the kept Ref required (with that duplicate's From if
// the first one was optional). Order is manifest order, then init containers,
// containers, volumes and imagePullSecrets of each pod template.
func References(manifest string) ([]Ref, error) {
	resources, err := SplitManifest(manifest)
	if err != nil {
		return nil, err
	}
	defined := map[string][]string{} // "Kind/name" → namespaces the manifest defines it in
	var all []Ref
	for _, r := range resources {
		if (r.Kind == "Secret" || r.Kind == "ConfigMap") && r.APIVersion == "v1" {
			defined[r.Kind+"/"+r.Name] = append(defined[r.Kind+"/"+r.Name], r.Namespace)
			continue
		}
		spec, err := podSpecOf(r)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		if spec != nil {
			c := refCollector{owner: r.Kind + "/" + r.Name, namespace: r.Namespace}
			c.podSpec(spec)
			all = append(all, c.refs...)
		}
	}

	type refKey struct{ kind, namespace, name, key string }
	seen := map[refKey]int{}
	var out []Ref
	for _, ref := range all {
		if definedIn(defined[ref.Kind+"/"+ref.Name], ref.Namespace) {
			continue
		}
		k := refKey{ref.Kind, ref.Namespace, ref.Name, ref.Key}
		i, dup := seen[k]
		if !dup {
			seen[k] = len(out)
			out = append(out, ref)
			continue
		}
		if out[i].Optional && !ref.Optional {
			out[i].Optional, out[i].From = false, ref.From
		}
	}
	return out, nil
}

func definedIn(namespaces []string, ns string) bool {
	for _, d := range namespaces {
		if d == ns || d == "" || ns == "" {
			return true
		}
	}
	return false
}

// podSpecOf decodes the pod template of a workload; nil for any other kind of object.
func podSpecOf(r Resource) (*corev1.PodSpec, error) {
	group := apiGroup(r.APIVersion)
	var spec *corev1.PodSpec
	var err error
	switch {
	case group == "apps" && (r.Kind == "Deployment" || r.Kind == "StatefulSet" || r.Kind == "DaemonSet"),
		group == "batch" && r.Kind == "Job":
		var o struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		err = yaml.Unmarshal([]byte(r.Raw), &o)
		spec = &o.Spec.Template.Spec
	case group == "batch" && r.Kind == "CronJob":
		var o struct {
			Spec struct {
				JobTemplate struct {
					Spec struct {
						Template corev1.PodTemplateSpec `json:"template"`
					} `json:"spec"`
				} `json:"jobTemplate"`
			} `json:"spec"`
		}
		err = yaml.Unmarshal([]byte(r.Raw), &o)
		spec = &o.Spec.JobTemplate.Spec.Template.Spec
	case group == "" && r.Kind == "Pod":
		var o corev1.Pod
		err = yaml.Unmarshal([]byte(r.Raw), &o)
		spec = &o.Spec
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return spec, nil
}

// refCollector gathers the references of one pod template, in order.
type refCollector struct {
	owner     string // "Kind/name" of the workload
	namespace string
	refs      []Ref
}

func (c *refCollector) add(kind, name, key string, optional *bool, from string) {
	if name == "" {
		return
	}
	c.refs = append(c.refs, Ref{
		Kind: kind, Name: name, Namespace: c.namespace, Key: key,
		Optional: optional != nil && *optional, From: c.owner + " " + from,
	})
}

// addItems adds one Ref per item key, or one for the whole object when there are none.
func (c *refCollector) addItems(kind, name string, items []corev1.KeyToPath, optional *bool, from string) {
	if len(items) == 0 {
		c.add(kind, name, "", optional, from)
		return
	}
	for _, it := range items {
		c.add(kind, name, it.Key, optional, from)
	}
}

func (c *refCollector) podSpec(spec *corev1.PodSpec) {
	for _, ct := range spec.InitContainers {
		c.container(ct, "init container "+ct.Name)
	}
	for _, ct := range spec.Containers {
		c.container(ct, "container "+ct.Name)
	}
	for _, v := range spec.Volumes {
		from := "volume " + v.Name
		if s := v.Secret; s != nil {
			c.addItems("Secret", s.SecretName, s.Items, s.Optional, from)
		}
		if cm := v.ConfigMap; cm != nil {
			c.addItems("ConfigMap", cm.Name, cm.Items, cm.Optional, from)
		}
		if p := v.Projected; p != nil {
			for _, src := range p.Sources {
				if s := src.Secret; s != nil {
					c.addItems("Secret", s.Name, s.Items, s.Optional, from+" (projected)")
				}
				if cm := src.ConfigMap; cm != nil {
					c.addItems("ConfigMap", cm.Name, cm.Items, cm.Optional, from+" (projected)")
				}
			}
		}
	}
	for _, ps := range spec.ImagePullSecrets {
		c.add("Secret", ps.Name, "", nil, "imagePullSecrets")
	}
}

func (c *refCollector) container(ct corev1.Container, where string) {
	for _, e := range ct.Env {
		if e.ValueFrom == nil {
			continue
		}
		if s := e.ValueFrom.SecretKeyRef; s != nil {
			c.add("Secret", s.Name, s.Key, s.Optional, where+" env "+e.Name)
		}
		if cm := e.ValueFrom.ConfigMapKeyRef; cm != nil {
			c.add("ConfigMap", cm.Name, cm.Key, cm.Optional, where+" env "+e.Name)
		}
	}
	for _, ef := range ct.EnvFrom {
		if s := ef.SecretRef; s != nil {
			c.add("Secret", s.Name, "", s.Optional, where+" envFrom")
		}
		if cm := ef.ConfigMapRef; cm != nil {
			c.add("ConfigMap", cm.Name, "", cm.Optional, where+" envFrom")
		}
	}
}
