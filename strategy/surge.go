package strategy

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/release"
)

// Room is what the namespace and the cluster leave for one more pod of a Deployment: the
// facts keep_capacity reads before it forces a rollout to surge.
type Room struct {
	// Quotas are the namespace's ResourceQuotas, with their status (hard and used).
	Quotas []corev1.ResourceQuota
	// Claims are the namespace's PersistentVolumeClaims by name.
	Claims map[string]corev1.PersistentVolumeClaim
	// Nodes counts the nodes a pod can be scheduled to (not cordoned).
	Nodes int
	// Running is each Deployment's live replica count (absent: not yet installed).
	Running map[string]int
}

// CannotSurge says why a surge pod of d — one more pod beside its running ones — can never
// run, or "" when nothing known stops it: a volume claim only one pod may mount, a quota
// already used to the full, or a host port or a one-per-node anti-affinity with every node
// taken.
func (r Room) CannotSurge(d appsv1.Deployment) string {
	running, ok := r.Running[d.Name]
	if !ok || running == 0 {
		return "" // a first install, or a Deployment at zero, needs no surge
	}
	spec := d.Spec.Template.Spec
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pvc, ok := r.Claims[v.PersistentVolumeClaim.ClaimName]
		if ok && slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOncePod) {
			return fmt.Sprintf("its volume %q is claim %s, ReadWriteOncePod: only one pod at a time can mount it", v.Name, pvc.Name)
		}
	}
	if why := r.quotaFull(spec); why != "" {
		return why
	}
	if r.Nodes > 0 && running >= r.Nodes {
		if port := hostPort(spec); port > 0 {
			return fmt.Sprintf("its pods take hostPort %d and each of the %d schedulable nodes already runs one", port, r.Nodes)
		}
		if onePerNode(d) {
			return fmt.Sprintf("its required pod anti-affinity allows one pod per node and each of the %d schedulable nodes already runs one", r.Nodes)
		}
	}
	return ""
}

// quotaFull names a quota that has no room for one more pod of spec.
func (r Room) quotaFull(spec corev1.PodSpec) string {
	need := podRequests(spec)
	need[corev1.ResourcePods] = resource.MustParse("1")
	need["count/pods"] = resource.MustParse("1")
	for _, q := range r.Quotas {
		for name, hard := range q.Status.Hard {
			want, ok := need[name]
			if !ok {
				continue
			}
			used := q.Status.Used[name]
			left := hard.DeepCopy()
			left.Sub(used)
			if left.Cmp(want) < 0 {
				return fmt.Sprintf("ResourceQuota %s allows %s %s and %s are used: no room for one more pod (it needs %s)",
					q.Name, hard.String(), name, used.String(), want.String())
			}
		}
	}
	return ""
}

// podRequests sums a pod's container requests and limits as a quota counts them
// (requests.cpu, cpu, limits.memory, …).
func podRequests(spec corev1.PodSpec) map[corev1.ResourceName]resource.Quantity {
	out := map[corev1.ResourceName]resource.Quantity{}
	add := func(name corev1.ResourceName, q resource.Quantity) {
		sum := out[name]
		sum.Add(q)
		out[name] = sum
	}
	for _, c := range spec.Containers {
		for name, q := range c.Resources.Requests {
			add("requests."+name, q)
			add(name, q)
		}
		for name, q := range c.Resources.Limits {
			add("limits."+name, q)
		}
	}
	return out
}

// hostPort is the first host port the pod's containers take (0: none).
func hostPort(spec corev1.PodSpec) int32 {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				return p.HostPort
			}
		}
	}
	return 0
}

// onePerNode reports whether d's pods are required to stay apart per node (an anti-affinity
// on kubernetes.io/hostname whose selector matches the pods' own labels).
func onePerNode(d appsv1.Deployment) bool {
	a := d.Spec.Template.Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return false
	}
	own := d.Spec.Template.Labels
	for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey != corev1.LabelHostname || term.LabelSelector == nil {
			continue
		}
		matches := len(term.LabelSelector.MatchLabels) > 0 || len(term.LabelSelector.MatchExpressions) > 0
		for k, v := range term.LabelSelector.MatchLabels {
			if own[k] != v {
				matches = false
			}
		}
		if matches && len(term.LabelSelector.MatchExpressions) == 0 {
			return true
		}
	}
	return false
}

// RollsWithoutSurge reports whether d's own rollout settings let it roll with no surge pod:
// Recreate, or a maxUnavailable of at least one pod at running replicas (a percentage rounded
// down, as the Deployment controller does).
func RollsWithoutSurge(d appsv1.Deployment, running int) bool {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return true
	}
	ru := d.Spec.Strategy.RollingUpdate
	unavailable := intstr.FromString("25%") // Kubernetes' default
	if ru != nil && ru.MaxUnavailable != nil {
		unavailable = *ru.MaxUnavailable
	}
	// rounded down, as the Deployment controller rounds maxUnavailable
	n, err := intstr.GetScaledValueFromIntOrPercent(&unavailable, running, false)
	return err == nil && n >= 1
}

// PlanSurge reads, before anything is written, which of the rendered Deployments keep_capacity
// must leave to their own rollout settings because a surge pod of theirs can never run (the
// reason, by name). A Deployment whose own settings need a surge pod too can never roll: that
// is refused, naming keep_capacity, the Deployment and the reason.
func PlanSurge(rendered string, room Room) (map[string]string, error) {
	deps, err := release.Deployments(rendered)
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, d := range deps {
		why := room.CannotSurge(d)
		if why == "" {
			continue
		}
		if !RollsWithoutSurge(d, room.Running[d.Name]) {
			fix := "let it take a pod out first (strategy.rollingUpdate.maxUnavailable: 1 with maxSurge: 0, or strategy.type: Recreate)"
			if strings.HasPrefix(why, "ResourceQuota") {
				fix = "raise the quota by one pod, or " + fix
			}
			return nil, fmt.Errorf("%s: Deployment/%s cannot roll: a rollout that keeps every ready replica needs one pod more, but %s; its chart's own rollout needs that pod too, so it would stall: %s",
				config.InKeepCap, d.Name, why, fix)
		}
		own[d.Name] = why
	}
	return own, nil
}
