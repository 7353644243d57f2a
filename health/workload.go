package health

import (
	"time"

	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/polymorphichelpers"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Workload kinds a watch follows.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
)

// daemonSetGenerationAnnotation is the DaemonSet's template generation, which the DaemonSet
// controller copies onto each pod it creates as the pod-template-generation label.
const (
	daemonSetGenerationAnnotation = "deprecated.daemonset.template.generation"
	daemonSetGenerationLabel      = "pod-template-generation"
)

// progress is one workload's state in a snapshot, whatever its kind: is its rollout done,
// which pods are the new revision's, and which controller object's events count as evidence.
type progress struct {
	object string // Kind/name
	found  bool
	done   bool
	line   string
	// observed: the controller has seen the latest spec, so its status and pods speak of it.
	observed bool
	sel      labels.Selector // the new revision's pods (nil until known)
	pods     []*corev1.Pod
	// owner is the object whose events count besides the new pods' (the new ReplicaSet, the
	// StatefulSet, the DaemonSet); want and have are its desired and created pod counts.
	ownerKind, ownerName string
	want, have           int32
	own                  *diagnose.Signal // the workload's own verdict (deadline, replica failure)
	// ownSince is when a replica failure began (the condition's last transition).
	ownSince time.Time
}

// rolloutStatus asks kubectl's rollout status viewer for the kind: the same verdict and
// message as `kubectl rollout status`.
func rolloutStatus(kind string, obj any) (string, bool, error) {
	v, err := polymorphichelpers.StatusViewerFor(schema.GroupKind{Group: "apps", Kind: kind})
	if err != nil {
		return "", false, err
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return "", false, err
	}
	msg, done, err := v.Status(&unstructured.Unstructured{Object: u}, 0)
	return strings.TrimSpace(msg), done, err
}

func (s *snapshot) deployment(name string) progress {
	p := progress{object: KindDeployment + "/" + name}
	d := s.deps[name]
	if d == nil {
		p.line = name + ": not found yet"
		return p
	}
	p.found = true
	if s.stale[p.object] {
		p.line = name + ": the watch is catching up with the API server"
		return p
	}
	p.done, p.line = Complete(d)
	if sig, bad := diagnose.DeploymentSignal(d, s.t.Since); bad {
		p.own = &sig
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentReplicaFailure {
				p.ownSince = c.LastTransitionTime.Time
			}
		}
	}
	if d.Status.ObservedGeneration < d.Generation {
		return p
	}
	p.observed = true
	rs := NewReplicaSet(d, s.rss)
	if rs == nil {
		return p
	}
	match := rs.Spec.Selector.MatchLabels
	if h := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" {
		match = labels.Merge(match, map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: h})
	}
	p.sel = labels.SelectorFromSet(match)
	p.pods = PodsOf(rs, s.pods)
	p.ownerKind, p.ownerName = "ReplicaSet", rs.Name
	p.want, p.have = 1, rs.Status.Replicas
	if rs.Spec.Replicas != nil {
		p.want = *rs.Spec.Replicas
	}
	return p
}

func (s *snapshot) statefulSet(name string) progress {
	p := progress{object: KindStatefulSet + "/" + name}
	st := s.sts[name]
	if st == nil {
		p.line = name + ": not found yet"
		return p
	}
	p.found = true
	if s.stale[p.object] {
		p.line = name + ": the watch is catching up with the API server"
		return p
	}
	want := int32(1)
	if st.Spec.Replicas != nil {
		want = *st.Spec.Replicas
	}
	p.ownerKind, p.ownerName, p.want, p.have = KindStatefulSet, name, want, st.Status.Replicas
	if st.Status.ObservedGeneration == 0 || st.Status.ObservedGeneration < st.Generation || st.Status.UpdateRevision == "" {
		p.line = name + ": waiting for the statefulset controller to observe the new spec"
		return p
	}
	p.observed = true
	counts := fmt.Sprintf("%d/%d updated, %d ready", st.Status.UpdatedReplicas, want, st.Status.ReadyReplicas)
	p.done, p.line = rolloutDone(KindStatefulSet, name, st, counts,
		st.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType, st.Status.ReadyReplicas >= want)
	p.sel = selectorWith(st.Spec.Selector, appsv1.ControllerRevisionHashLabelKey, st.Status.UpdateRevision)
	p.pods = ownedPods(s.pods, st.UID, p.sel)
	return p
}

func (s *snapshot) daemonSet(name string) progress {
	p := progress{object: KindDaemonSet + "/" + name}
	ds := s.dss[name]
	if ds == nil {
		p.line = name + ": not found yet"
		return p
	}
	p.found = true
	p.ownerKind, p.ownerName = KindDaemonSet, name
	p.want, p.have = ds.Status.DesiredNumberScheduled, ds.Status.CurrentNumberScheduled
	if ds.Status.ObservedGeneration < ds.Generation {
		p.line = name + ": waiting for the daemonset controller to observe the new spec"
		return p
	}
	p.observed = true
	st := ds.Status
	counts := fmt.Sprintf("%d/%d updated, %d ready, %d available", st.UpdatedNumberScheduled, st.DesiredNumberScheduled, st.NumberReady, st.NumberAvailable)
	p.done, p.line = rolloutDone(KindDaemonSet, name, ds, counts,
		ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType, st.NumberReady >= st.DesiredNumberScheduled)
	p.sel = selectorWith(ds.Spec.Selector, daemonSetGenerationLabel, ds.Annotations[daemonSetGenerationAnnotation])
	p.pods = ownedPods(s.pods, ds.UID, p.sel)
	return p
}

// rolloutDone decides a StatefulSet's or DaemonSet's rollout and its progress line. With an
// OnDelete strategy pods take the new template only when someone deletes them: there is no
// rollout to wait for, only the pods that exist (done when allReady). Otherwise kubectl's
// status viewer decides.
func rolloutDone(kind, name string, obj any, counts string, onDelete, allReady bool) (bool, string) {
	if onDelete {
		return allReady, fmt.Sprintf("%s: updateStrategy OnDelete (pods change only when deleted): %s", name, counts)
	}
	msg, done, err := rolloutStatus(kind, obj)
	if err != nil {
		msg = err.Error()
	}
	return done && err == nil, fmt.Sprintf("%s: %s (%s)", name, counts, msg)
}

// selectorWith is the workload's pod selector narrowed to pods whose label key is value (no
// narrowing when value is empty).
func selectorWith(ls *metav1.LabelSelector, key, value string) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		sel = labels.Nothing()
	}
	if value == "" {
		return sel
	}
	req, err := labels.NewRequirement(key, selection.Equals, []string{value})
	if err != nil {
		return labels.Nothing()
	}
	return sel.Add(*req)
}

// ownedPods returns the pods controlled by uid that sel selects and that are not being deleted.
func ownedPods(pods []*corev1.Pod, uid types.UID, sel labels.Selector) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && ownedBy(p.OwnerReferences, uid) && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}
