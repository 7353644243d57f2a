package deploy

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
)

// serviceDialer reaches a Prometheus inside the cluster (prometheus_service) through the API
// server with the run's own credentials: a port-forward to one of its Service's Ready pods,
// as the blue-green smoke tests reach a pod. The metrics provider dials on first use and again
// when a query fails (the pod went away); the run closes it when it ends.
type serviceDialer struct {
	r   *run
	svc config.PrometheusService
}

// dial forwards a local port to a Ready pod of the Service.
func (s serviceDialer) dial(ctx context.Context) (analysis.Dialed, error) {
	pod, port, err := s.target(ctx)
	if err != nil {
		return analysis.Dialed{}, err
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx)) // as long as the run: close ends it
	local, err := kube.PortForward(fctx, s.r.d.Clients.Config, s.r.d.Clients.Typed, s.svc.Namespace, pod, port)
	if err != nil {
		cancel()
		return analysis.Dialed{}, fmt.Errorf("%s: %v (the run needs create pods/portforward in namespace %s)", config.InPromService, kube.Explain(err), s.svc.Namespace)
	}
	return analysis.Dialed{URL: "http://127.0.0.1:" + strconv.Itoa(local), Close: cancel}, nil
}

// target is a Ready pod behind the Service and the container port the Service port sends to.
func (s serviceDialer) target(ctx context.Context) (string, int, error) {
	cs, ns := s.r.d.Clients.Typed, s.svc.Namespace
	svc, err := cs.CoreV1().Services(ns).Get(ctx, s.svc.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", 0, fmt.Errorf("%s: no Service %s in namespace %s", config.InPromService, s.svc.Name, ns)
	case err != nil:
		return "", 0, fmt.Errorf("%s: %v (the run needs get services in namespace %s)", config.InPromService, kube.Explain(err), ns)
	}
	var sp *corev1.ServicePort
	for i, p := range svc.Spec.Ports {
		if p.Name == s.svc.Port || strconv.Itoa(int(p.Port)) == s.svc.Port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil || len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("%s: Service %s/%s has no port %s with a selector", config.InPromService, ns, s.svc.Name, s.svc.Port)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", 0, fmt.Errorf("%s: %v (the run needs list pods in namespace %s)", config.InPromService, kube.Explain(err), ns)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for _, pod := range pods.Items {
		if port := containerPort(pod, sp); port > 0 && podIsReady(pod) {
			return pod.Name, port, nil
		}
	}
	return "", 0, fmt.Errorf("%s: Service %s/%s has no Ready pod", config.InPromService, ns, s.svc.Name)
}

// containerPort is the pod's port a Service port sends to (its targetPort, by number or name).
func containerPort(pod corev1.Pod, sp *corev1.ServicePort) int {
	tp := sp.TargetPort
	if tp.IntValue() > 0 {
		return tp.IntValue()
	}
	if tp.String() == "" || tp.String() == "0" {
		return int(sp.Port)
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == tp.String() {
				return int(p.ContainerPort)
			}
		}
	}
	return 0
}

func podIsReady(pod corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
