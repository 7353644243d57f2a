package health

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// A watch follows only the release's own objects, so that its memory and its decision time
// stay flat in a namespace that runs thousands of unrelated pods: pods and ReplicaSets through
// the target workloads' own selectors (an informer each), Events of type Warning only (the
// only ones a signal is read from), the workloads by name.

// scope is the informers of one watch.
type scope struct {
	factories []informers.SharedInformerFactory
	infs      []cache.SharedIndexInformer
	l         listers
}

// selectors are the target workloads' pod selectors, deduplicated; nil (watch the whole
// namespace) when one of them cannot be read yet.
func (w *Watcher) selectors(ctx context.Context, t Target) []labels.Selector {
	var raw []*metav1.LabelSelector
	apps := w.Client.AppsV1()
	for _, n := range t.Deployments {
		d, err := apps.Deployments(t.Namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		raw = append(raw, d.Spec.Selector)
	}
	for _, n := range t.StatefulSets {
		s, err := apps.StatefulSets(t.Namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		raw = append(raw, s.Spec.Selector)
	}
	for _, n := range t.DaemonSets {
		d, err := apps.DaemonSets(t.Namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		raw = append(raw, d.Spec.Selector)
	}
	seen := map[string]bool{}
	var out []labels.Selector
	for _, ls := range raw {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil || sel.Empty() {
			return nil // an empty selector selects everything: the whole namespace it is
		}
		if !seen[sel.String()] {
			seen[sel.String()] = true
			out = append(out, sel)
		}
	}
	return out
}

// newScope builds the informers of a watch of t.
func (w *Watcher) newScope(ctx context.Context, t Target) *scope {
	s := &scope{}
	ns := informers.WithNamespace(t.Namespace)
	objects := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, ns)
	warnings := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, ns,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "type=Warning" }))
	s.factories = append(s.factories, objects, warnings)
	s.l.events = warnings.Core().V1().Events().Lister()
	s.infs = append(s.infs, warnings.Core().V1().Events().Informer())
	// Only the kinds the target has: a Role that grants Deployments only still works.
	if len(t.Deployments) > 0 {
		s.l.deps = objects.Apps().V1().Deployments().Lister()
		s.infs = append(s.infs, objects.Apps().V1().Deployments().Informer())
	}
	if len(t.StatefulSets) > 0 {
		s.l.sts = objects.Apps().V1().StatefulSets().Lister()
		s.infs = append(s.infs, objects.Apps().V1().StatefulSets().Informer())
	}
	if len(t.DaemonSets) > 0 {
		s.l.dss = objects.Apps().V1().DaemonSets().Lister()
		s.infs = append(s.infs, objects.Apps().V1().DaemonSets().Informer())
	}
	sels := w.selectors(ctx, t)
	if sels == nil {
		sels = []labels.Selector{labels.Everything()}
	}
	for _, sel := range sels {
		f := objects
		if !sel.Empty() {
			q := sel.String()
			f = informers.NewSharedInformerFactoryWithOptions(w.Client, 0, ns,
				informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = q }))
			s.factories = append(s.factories, f)
		}
		s.l.pods = append(s.l.pods, f.Core().V1().Pods().Lister())
		s.infs = append(s.infs, f.Core().V1().Pods().Informer())
		if len(t.Deployments) > 0 { // a Deployment's ReplicaSets carry its pods' labels
			s.l.rss = append(s.l.rss, f.Apps().V1().ReplicaSets().Lister())
			s.infs = append(s.infs, f.Apps().V1().ReplicaSets().Informer())
		}
	}
	return s
}

// start starts every informer and waits for their caches.
func (s *scope) start(ctx context.Context, stop <-chan struct{}, ns string) error {
	for _, f := range s.factories {
		f.Start(stop)
	}
	for _, f := range s.factories {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("watch %s in %s: cache did not sync", typ, ns)
			}
		}
	}
	return nil
}

func (s *scope) shutdown() {
	for _, f := range s.factories {
		f.Shutdown()
	}
}

// listPods lists every pod the listers hold, once each.
func listPods(ls []corelisters.PodLister, ns string) []*corev1.Pod {
	return unique(ls, func(l corelisters.PodLister) ([]*corev1.Pod, error) { return l.Pods(ns).List(labels.Everything()) },
		func(p *corev1.Pod) types.UID { return p.UID })
}

// listReplicaSets lists every ReplicaSet the listers hold, once each.
func listReplicaSets(ls []appslisters.ReplicaSetLister, ns string) []*appsv1.ReplicaSet {
	return unique(ls, func(l appslisters.ReplicaSetLister) ([]*appsv1.ReplicaSet, error) {
		return l.ReplicaSets(ns).List(labels.Everything())
	}, func(r *appsv1.ReplicaSet) types.UID { return r.UID })
}

// unique lists what every lister holds (the informers of overlapping selectors may both hold
// an object), each object once, by UID.
func unique[L, T any](ls []L, list func(L) ([]T, error), uid func(T) types.UID) []T {
	seen := map[types.UID]bool{}
	var out []T
	for _, l := range ls {
		items, _ := list(l)
		for _, it := range items {
			if id := uid(it); !seen[id] {
				seen[id] = true
				out = append(out, it)
			}
		}
	}
	return out
}

// notify pokes changed on every change the informers see, and tells api of watch errors.
func (s *scope) notify(changed chan struct{}, api *apiState) error {
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke(changed) },
		UpdateFunc: func(any, any) { poke(changed) },
		DeleteFunc: func(any) { poke(changed) },
	}
	for _, inf := range s.infs {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
		if err := inf.SetWatchErrorHandlerWithContext(api.watchError); err != nil {
			return err
		}
	}
	return nil
}
