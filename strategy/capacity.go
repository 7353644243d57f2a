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
// the new pod. Recreate is left alone: the chart asked for downtime in so many words. Each
// Deployment in own (PlanSurge's), whose surge pod could never run, keeps the chart's
// maxUnavailable and asks for no surge pod (maxSurge 0): one that cannot be created or
// placed would only read as a failed rollout.
func KeepCapacity(rendered string, own map[string]string) (string, []string, error) {
	var changed []string
	docs, err := rewrite.RewriteDeployments(rendered, func(name string, obj map[string]any, _ *rewrite.HPA) {
		st := rewrite.MapAt(obj, "spec", "strategy")
		if _, mine := own[name]; mine {
			if t, _ := st["type"].(string); t == "" || t == "RollingUpdate" {
				if what := noSurge(obj, name); what != "" {
					changed = append(changed, what)
				}
			}
			return
		}
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

// noSurge sets a rolling Deployment's maxSurge to 0 and says so ("" when it was 0).
func noSurge(obj map[string]any, name string) string {
	ru := rewrite.MapAt(obj, "spec", "strategy", "rollingUpdate")
	if ru == nil {
		ru = map[string]any{}
		rewrite.SetPath(obj, []string{"spec", "strategy", "type"}, "RollingUpdate")
		rewrite.MapAt(obj, "spec", "strategy")["rollingUpdate"] = ru
	}
	surge, ok := ru["maxSurge"]
	if !ok {
		surge = "25%"
	}
	if isZero(surge) {
		return ""
	}
	ru["maxSurge"] = 0
	return fmt.Sprintf("Deployment/%s: maxSurge %v → 0 (no surge pod could run; it keeps the chart's maxUnavailable)", name, surge)
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
