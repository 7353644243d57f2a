package rewrite

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// TwinService is a copy of a Service named <name><suffix>, as a plain ClusterIP Service: the
// chart's addresses, external settings and node ports are the chart Service's own.
func TwinService(svc map[string]any, suffix string) map[string]any {
	p := DeepCopy(svc)
	meta := p["metadata"].(map[string]any)
	meta["name"] = fmt.Sprint(meta["name"]) + suffix
	delete(meta, "resourceVersion")
	spec := p["spec"].(map[string]any)
	for _, k := range []string{"clusterIP", "clusterIPs", "externalIPs", "loadBalancerIP", "externalTrafficPolicy", "healthCheckNodePort", "loadBalancerSourceRanges"} {
		delete(spec, k)
	}
	spec["type"] = "ClusterIP"
	if ports, ok := spec["ports"].([]any); ok {
		for _, port := range ports {
			if m, ok := port.(map[string]any); ok {
				delete(m, "nodePort")
			}
		}
	}
	return p
}

func HasSelector(obj map[string]any) bool {
	spec, _ := obj["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	return len(sel) > 0
}

// SetPath sets obj[path...] = v, making the maps on the way.
func SetPath(obj map[string]any, path []string, v string) {
	m := obj
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func DeepCopy(m map[string]any) map[string]any {
	b, _ := yaml.Marshal(m)
	var out map[string]any
	_ = yaml.Unmarshal(b, &out)
	return out
}

func Encode(obj map[string]any) string {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\n")
}

// ReplicasOf is a Deployment's spec.replicas (1 when unset, as the API server defaults it).
func ReplicasOf(obj map[string]any) int {
	spec, _ := obj["spec"].(map[string]any)
	switch v := spec["replicas"].(type) {
	case float64:
		return int(v)
	case int:
		return v
	case int64:
		return int(v)
	}
	return 1
}
