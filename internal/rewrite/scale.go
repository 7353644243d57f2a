package rewrite

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/release"
)

// N is what runs, not what the manifest says: a Deployment that an HPA scales, or whose chart
// leaves spec.replicas out, runs the count it has live (the HPA's doing, or a person's), and
// Kubernetes would run 1 of a new one. The pure half of that: which HPAs a manifest holds and
// what they target, and how many replicas a new copy of a Deployment must start at.

// HPA is a HorizontalPodAutoscaler of a manifest, as far as scaling a Deployment goes.
type HPA struct {
	Name, Target string // the HPA and the Deployment it scales
	Min, Max     int    // minReplicas (1 when unset, as Kubernetes defaults it) and maxReplicas
}

// ReadHPAs lists the manifest's HPAs that scale a Deployment, by the Deployment's name.
func ReadHPAs(manifest string) (map[string]HPA, error) {
	out := map[string]HPA{}
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return nil, err
	}
	for _, r := range resources {
		if r.Kind != "HorizontalPodAutoscaler" || !strings.HasPrefix(r.APIVersion, "autoscaling/") {
			continue
		}
		var obj struct {
			Spec struct {
				ScaleTargetRef struct{ Kind, Name string } `json:"scaleTargetRef"`
				MinReplicas    *int                        `json:"minReplicas"`
				MaxReplicas    int                         `json:"maxReplicas"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil || obj.Spec.ScaleTargetRef.Kind != "Deployment" {
			continue
		}
		h := HPA{Name: r.Name, Target: obj.Spec.ScaleTargetRef.Name, Min: 1, Max: obj.Spec.MaxReplicas}
		if obj.Spec.MinReplicas != nil {
			h.Min = *obj.Spec.MinReplicas
		}
		out[h.Target] = h
	}
	return out, nil
}

// StartCount is how many replicas a new copy of a Deployment must run to take over from one
// that runs live (0: none runs yet). With an HPA it is the live count bounded by the HPA's
// min and max (the HPA's minimum on a first install); a chart that leaves spec.replicas out
// gets the live count (1 on a first install); otherwise the chart's count (-1: leave it).
func StartCount(hasReplicas bool, hpa *HPA, live int) int {
	switch {
	case hpa != nil:
		return min(max(live, hpa.Min), max(hpa.Max, hpa.Min))
	case !hasReplicas:
		return max(live, 1)
	}
	return -1
}

// HasReplicas reports whether a Deployment document sets spec.replicas.
func HasReplicas(obj map[string]any) bool {
	spec, _ := obj["spec"].(map[string]any)
	_, ok := spec["replicas"]
	return ok
}

// SetReplicas sets a Deployment document's spec.replicas.
func SetReplicas(obj map[string]any, n int) {
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		spec = map[string]any{}
		obj["spec"] = spec
	}
	spec["replicas"] = n
}

// RetargetHPA points an HPA document at Deployment target.
func RetargetHPA(obj map[string]any, target string) {
	SetPath(obj, []string{"spec", "scaleTargetRef", "name"}, target)
}

// RunCounts is, for each Deployment of a rendered manifest, the count it must run: StartCount
// of its live count (live, by name), or the chart's own count.
func RunCounts(rendered string, live map[string]int) (map[string]int, error) {
	out := map[string]int{}
	_, err := RewriteDeployments(rendered, func(name string, obj map[string]any, hpa *HPA) {
		if n := StartCount(HasReplicas(obj), hpa, live[name]); n >= 0 {
			out[name] = n
		} else {
			out[name] = ReplicasOf(obj)
		}
	})
	return out, err
}

// WithRunCounts is the rendered manifest with spec.replicas set, where an HPA scales a
// Deployment or the chart leaves replicas out, to what it must run (StartCount of live): Helm
// then never leaves a Deployment at a live 0, nor drops one to Kubernetes' default of 1.
func WithRunCounts(rendered string, live map[string]int) (string, error) {
	docs, err := RewriteDeployments(rendered, func(name string, obj map[string]any, hpa *HPA) {
		if n := StartCount(HasReplicas(obj), hpa, live[name]); n >= 0 {
			SetReplicas(obj, n)
		}
	})
	if err != nil {
		return "", err
	}
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", nil
}

// RewriteDeployments calls f with each apps Deployment of a manifest and the HPA that scales
// it, and returns the manifest's documents, each Deployment as f left it.
func RewriteDeployments(manifest string, f func(name string, obj map[string]any, hpa *HPA)) ([]string, error) {
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return nil, err
	}
	hpas, err := ReadHPAs(manifest)
	if err != nil {
		return nil, err
	}
	docs := make([]string, 0, len(resources))
	for _, r := range resources {
		if r.Kind != "Deployment" || !strings.HasPrefix(r.APIVersion, "apps/") {
			docs = append(docs, r.Raw)
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.Kind, r.Name, err)
		}
		var hpa *HPA
		if h, ok := hpas[r.Name]; ok {
			hpa = &h
		}
		f(r.Name, obj, hpa)
		docs = append(docs, Encode(obj))
	}
	return docs, nil
}
