package deploy

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
)

// forceRollback is Kubernetes' "forced rollback" of StatefulSets: with the default
// podManagementPolicy OrderedReady, a StatefulSet whose new pod never becomes Ready waits for
// it forever, even after its template is reverted. Once the revert is applied (the controller
// has observed it), the pods of another controller revision than the reverted one that are
// not Ready are deleted, so the controller recreates them from the good revision. Each
// deletion is named in the run's timeline (the summary). It returns the pods deleted.
func (r *run) forceRollback(ctx context.Context, w release.Workloads) []string {
	var deleted []string
	for _, name := range w.StatefulSets {
		deleted = append(deleted, r.forceStatefulSet(ctx, name)...)
	}
	return deleted
}

func (r *run) forceStatefulSet(ctx context.Context, name string) []string {
	cs, ns := r.d.Clients.Typed, r.cfg.Namespace
	var rev string
	var sel string
	deadline := time.Now().Add(15 * time.Second)
	for { // the controller's view of the revert: its update revision is the good one
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			r.event(ctx, "rollback", Warn, "forced rollback of StatefulSet %s: %v", name, kube.Explain(err))
			return nil
		}
		if s.Status.ObservedGeneration >= s.Generation && s.Status.UpdateRevision != "" {
			rev, sel = s.Status.UpdateRevision, metav1.FormatLabelSelector(s.Spec.Selector)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.event(ctx, "rollback", Warn, "forced rollback of StatefulSet %s: its controller did not observe the revert in time; no pod deleted", name)
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil
	}
	var deleted []string
	for _, p := range pods.Items {
		hash := p.Labels["controller-revision-hash"]
		if hash == "" || hash == rev || p.DeletionTimestamp != nil || podReady(&p) || !ownedBy(&p, name) {
			continue
		}
		if err := cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			r.event(ctx, "rollback", Warn, "forced rollback: could not delete pod %s: %v", p.Name, kube.Explain(err))
			continue
		}
		deleted = append(deleted, p.Name)
		r.event(ctx, "rollback", Info, "forced rollback: deleted pod %s of StatefulSet %s (revision %s, not Ready) so that it is recreated from the reverted revision %s", p.Name, name, hash, rev)
	}
	return deleted
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ownedBy(p *corev1.Pod, statefulSet string) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "StatefulSet" && ref.Name == statefulSet
}
