package strategy

import (
	"fmt"
	"strings"

	"github.com/shepherd-deploy/shepherd/internal/rewrite"
)

// KeepCapacity is rolling's post-renderer (input keep_capacity, on by default): each
// Deployment that rolls (strategy RollingUpdate, Kubernetes' default) rolls with maxUnavailable
// 0 — a new pod Ready before an old one goes — so a rollout never takes a ready replica out of
// service first. A chart that allows unavailability (podinfo's maxUnavailable: 1 empties the
// Service of a one-replica release during a rollout) is changed; each change is returned, as
// "Deployment/name: maxUnavailable 1 → 0". A maxSurge of 0 becomes 1: a rollout needs room for
// the new pod. Recreate is left alone: the chart asked for downtime in so many words. So is
// each Deployment in own (PlanSurge's): one whose surge pod could never run keeps the
// chart's own rollout.
func KeepCapacity(rendered string, own map[string]string) (string, []string, error) {
	var changed []string
	docs, err := rewrite.RewriteDeployments(rendered, func(name string, obj map[string]any, _ *rewrite.HPA) {
		if _, mine := own[name]; mine {
			return
		}
		st := rewrite.MapAt(obj, "spec", "strategy")
		if t, _ := st["type"].(string); t != "" && t != "RollingUpdate" {
			return
		}
		ru := rewrite.MapAt(st, "rollingUpdate")
		unavailable, ok := ru["maxUnavailable"]
		if !ok {
			unavailable = "25%" // Kubernetes' default
		}
		surge, hasSurge := ru["maxSurge"]
		if isZero(unavailable) && (!hasSurge || !isZero(surge)) {
			return
		}
		rewrite.SetPath(obj, []string{"spec", "strategy", "type"}, "RollingUpdate")
		ru = rewrite.MapAt(obj, "spec", "strategy", "rollingUpdate")
		if ru == nil {
			ru = map[string]any{}
			rewrite.MapAt(obj, "spec", "strategy")["rollingUpdate"] = ru
		}
		ru["maxUnavailable"] = 0
		what := fmt.Sprintf("Deployment/%s: maxUnavailable %v → 0", name, unavailable)
		if hasSurge && isZero(surge) {
			ru["maxSurge"] = 1
			what += ", maxSurge 0 → 1"
		}
		changed = append(changed, what)
	})
	if err != nil {
		return "", nil, err
	}
	return "---\n" + strings.Join(docs, "\n---\n") + "\n", changed, nil
}

// isZero reports whether an intstr value (a number or a percentage) is zero.
func isZero(v any) bool {
	switch x := v.(type) {
	case float64:
		return x == 0
	case int:
		return x == 0
	case int64:
		return x == 0
	case string:
		return strings.TrimSuffix(strings.TrimSpace(x), "%") == "0"
	}
	return false
}
