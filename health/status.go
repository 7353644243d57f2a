// Package health decides whether a rollout succeeded or failed: a fail-fast watcher over the
// release's Deployments, ReplicaSets, Pods and Events, readiness as a pure function of status,
// and the HTTP health check.
package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// revisionAnnotation is set by the deployment controller on a Deployment and its ReplicaSets.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// Complete reports whether a Deployment's rollout is complete, as `kubectl rollout status`
// decides it (kubectl's own status viewer: the controller has seen the latest spec, every
// replica runs the new template and is available, no old replica is left), and a one-line
// progress description either way.
func Complete(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration < d.Generation {
		return false, d.Name + ": waiting for the deployment controller to observe the new spec"
	}
	desc := fmt.Sprintf("%s: %d/%d updated, %d ready, %d available, %d total", d.Name, s.UpdatedReplicas, want, s.ReadyReplicas, s.AvailableReplicas, s.Replicas)
	_, done, err := rolloutStatus(KindDeployment, d)
	return done && err == nil, desc
}

// NewReplicaSet picks the Deployment's current ReplicaSet among rss: owned by d and at d's
// revision. It returns nil before the controller has created it.
func NewReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	rev := d.Annotations[revisionAnnotation]
	if rev == "" {
		return nil
	}
	for _, rs := range rss {
		if ownedBy(rs.OwnerReferences, d.UID) && rs.Annotations[revisionAnnotation] == rev {
			return rs
		}
	}
	return nil
}

// PodsOf returns the pods of pods owned by rs that are not being deleted.
func PodsOf(rs *appsv1.ReplicaSet, pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && ownedBy(p.OwnerReferences, rs.UID) {
			out = append(out, p)
		}
	}
	return out
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller && r.UID == uid {
			return true
		}
	}
	return false
}
