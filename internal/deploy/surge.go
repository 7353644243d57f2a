package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// planSurge is keep_capacity's pre-flight: which rendered Deployments keep their chart's own
// rollout because a surge pod of theirs could never run (each said as a warning), or a
// refusal when such a Deployment could not roll at all.
func (r *run) planSurge(ctx context.Context, rendered string) (map[string]string, error) {
	room, err := r.room(ctx)
	if err != nil {
		return nil, err
	}
	own, err := strategy.PlanSurge(rendered, room)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(own))
	for name := range own {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r.event(ctx, "pre-flight", Warn, "%s: Deployment/%s keeps its chart's own rollout, which takes a pod out of service before its replacement is Ready: a surge pod could never run (%s)",
			config.InKeepCap, name, own[name])
	}
	return own, nil
}

// room reads what the namespace and the cluster leave for surge pods. What this run may not
// read (nodes, for a namespaced role) is left out: no check is made on it.
func (r *run) room(ctx context.Context) (strategy.Room, error) {
	c, ns := r.d.Clients.Typed, r.cfg.Namespace
	room := strategy.Room{Claims: map[string]corev1.PersistentVolumeClaim{}, Running: map[string]int{}}
	readable := func(what string, err error) error {
		if err == nil || apierrors.IsForbidden(err) {
			return nil
		}
		return fmt.Errorf("%s: reading %s: %v", config.InKeepCap, what, kube.Explain(err))
	}
	deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err := readable("Deployments", err); err != nil {
		return room, err
	}
	if deps != nil {
		for _, d := range deps.Items {
			if d.Spec.Replicas != nil {
				room.Running[d.Name] = int(*d.Spec.Replicas)
			}
		}
	}
	quotas, err := c.CoreV1().ResourceQuotas(ns).List(ctx, metav1.ListOptions{})
	if err := readable("ResourceQuotas", err); err != nil {
		return room, err
	}
	if quotas != nil {
		room.Quotas = quotas.Items
	}
	claims, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err := readable("PersistentVolumeClaims", err); err != nil {
		return room, err
	}
	if claims != nil {
		for _, pvc := range claims.Items {
			room.Claims[pvc.Name] = pvc
		}
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err := readable("nodes", err); err != nil {
		return room, err
	}
	if nodes != nil {
		for _, n := range nodes.Items {
			if !n.Spec.Unschedulable {
				room.Nodes++
			}
		}
	}
	return room, nil
}

// surgeStalled is diag with a hint that names keep_capacity when a rollout keep_capacity made
// surge (kept: its changes) stalled on a pod that could not be created or placed.
func surgeStalled(diag diagnose.Diagnosis, kept []string) diagnose.Diagnosis {
	if diag.Category != diagnose.Capacity || len(kept) == 0 {
		return diag
	}
	diag.Hint = strings.TrimSpace(surgeHint(kept) + " " + diag.Hint)
	return diag
}

// surgeHint says what keep_capacity did and what to change.
func surgeHint(kept []string) string {
	return fmt.Sprintf("%s held every ready replica in service (%s), so this rollout needed a surge pod, and that pod could not run; set %s: false to let the chart's own rollout take a pod out first, or make room for one more pod.",
		config.InKeepCap, strings.Join(kept, "; "), config.InKeepCap)
}
