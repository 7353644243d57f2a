package health

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Steady watches the pods selected by sel for d after a rollout: none may restart, go unready
// or disappear without a replacement becoming ready. It returns nil when the window passes,
// the first problem as a signal otherwise, and ctx.Err() if ctx ends first.
func (w *Watcher) Steady(ctx context.Context, ns string, sel labels.Selector, d time.Duration) (*diagnose.Signal, error) {
	if d <= 0 {
		return nil, nil
	}
	factory := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }))
	pods := factory.Core().V1().Pods()
	problems := make(chan diagnose.Signal, 1)
	report := func(s diagnose.Signal) {
		select {
		case problems <- s:
		default:
		}
	}
	_, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
			if n.DeletionTimestamp != nil {
				return
			}
			if r := restarts(n) - restarts(o); r > 0 {
				report(diagnose.Signal{Category: diagnose.CrashLoop, Object: "Pod/" + n.Name, Reason: "Restarted",
					Message: fmt.Sprintf("restarted %d time(s) during the verification window", r)})
			}
			if podutils.IsPodReady(o) && !podutils.IsPodReady(n) {
				report(diagnose.Signal{Category: diagnose.Probe, Object: "Pod/" + n.Name, Reason: "NotReady",
					Message: "went unready during the verification window"})
			}
		},
	})
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	defer func() { close(stop); factory.Shutdown() }()
	factory.Start(stop)
	factory.WaitForCacheSync(ctx.Done())
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case s := <-problems:
		return &s, nil
	case <-timer.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}
