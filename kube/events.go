package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Component is the source Shepherd's Kubernetes Events carry.
const Component = "shepherd"

// RecordEvent writes a Kubernetes Event on a workload (Deployment, StatefulSet, DaemonSet),
// where `kubectl describe` and `kubectl get events` show it to whoever looks later (e.g. why a
// rollback happened).
func RecordEvent(ctx context.Context, cs kubernetes.Interface, ns, kind, name, eventType, reason, message string) error {
	var obj metav1.Object
	var err error
	switch kind {
	case "StatefulSet":
		obj, err = cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	case "DaemonSet":
		obj, err = cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	default:
		kind = "Deployment"
		obj, err = cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return Explain(err)
	}
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", name, time.Now().UnixNano()), Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, APIVersion: "apps/v1", Namespace: ns, Name: name,
			UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion()},
		Reason: reason, Message: message, Type: eventType,
		Source:         corev1.EventSource{Component: Component},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	_, err = cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})
	return Explain(err)
}
