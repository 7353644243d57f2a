package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// newNamespace creates a fresh namespace named after the scenario and the tool.
func (b *bench) newNamespace(ctx context.Context, scenario, tool string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-" + scenario + "-" + tool + "-"}}
	got, err := b.c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create namespace: %w", err)
	}
	return got.Name, nil
}

// rolledOut reports whether Deployment d runs image tag with every replica updated, ready and
// available and no other pod left, and describes its state.
func rolledOut(d *appsv1.Deployment, tag string) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	img := ""
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		img = cs[0].Image
	}
	s := d.Status
	ok := strings.HasSuffix(img, ":"+tag) && s.ObservedGeneration >= d.Generation &&
		s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want && s.Replicas == want
	return ok, fmt.Sprintf("%s: %d replicas wanted, %d total, %d updated, %d ready, %d available (generation %d observed %d)",
		img, want, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, d.Generation, s.ObservedGeneration)
}

// waitRolledOut polls Deployment web in ns until it is rolled out at tag and returns when it
// first saw it so; it gives up after limit.
func (b *bench) waitRolledOut(ctx context.Context, ns, tag string, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	last := "not read yet"
	for {
		d, err := b.c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		now := time.Now()
		if err == nil {
			var ok bool
			if ok, last = rolledOut(d, tag); ok {
				return now, nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("deployment %s/web not rolled out at %s within %s: %s", ns, tag, limit, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// podWatch records when a pod of a namespace first shows a container waiting with a reason,
// as seen by a watch (an informer) of the bench's own.
type podWatch struct {
	reason string
	stop   chan struct{}
	done   func()

	mu    sync.Mutex
	first time.Time
	pod   string
}

// watchPods starts watching the pods of ns for reason and returns once the watch is synced,
// so that nothing the next command causes can be missed. Stop it when done.
func (b *bench) watchPods(ctx context.Context, ns, reason string) (*podWatch, error) {
	w := &podWatch{reason: reason, stop: make(chan struct{})}
	factory := informers.NewSharedInformerFactoryWithOptions(b.c.Client, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.see(obj) },
		UpdateFunc: func(_, obj any) { w.see(obj) },
	})
	if err != nil {
		return nil, err
	}
	w.done = factory.Shutdown
	factory.Start(w.stop)
	for _, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			w.Stop()
			return nil, fmt.Errorf("watch pods in %s: cache did not sync", ns)
		}
	}
	return w, nil
}

// see notes the first pod that shows the watched waiting reason.
func (w *podWatch) see(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == w.reason {
			w.mu.Lock()
			if w.first.IsZero() {
				w.first, w.pod = now, p.Name
			}
			w.mu.Unlock()
			return
		}
	}
}

// First returns when the watched condition was first seen and on which pod (zero if not yet).
func (w *podWatch) First() (time.Time, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first, w.pod
}

// Stop ends the watch.
func (w *podWatch) Stop() {
	close(w.stop)
	w.done()
}
