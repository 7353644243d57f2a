package deploy

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
)

// servicePrometheus is a Prometheus inside the cluster (prometheus_service), reached through
// the API server with the run's own credentials: a port-forward to one of its Service's Ready
// pods, as the blue-green smoke tests reach a pod. It is made on first use and made again
// when a query fails (the pod went away); the run closes it when it ends.
type servicePrometheus struct {
	r    *run
	svc  config.PrometheusService
	auth analysis.Auth
	q    analysis.Queries

	mu   sync.Mutex
	cur  *analysis.PrometheusProvider
	stop context.CancelFunc
}

var _ analysis.Provider = (*servicePrometheus)(nil)

func (s *servicePrometheus) Latency() bool { return s.q.WithLatency }

// Observe reads a track, forwarding again once if the forwarded pod stopped answering.
func (s *servicePrometheus) Observe(ctx context.Context, t analysis.Track) (analysis.Observation, error) {
	var o analysis.Observation
	err := s.try(ctx, func(p *analysis.PrometheusProvider) (err error) { o, err = p.Observe(ctx, t); return err })
	return o, err
}

// Check forwards and runs each query once.
func (s *servicePrometheus) Check(ctx context.Context, t analysis.Track) error {
	return s.try(ctx, func(p *analysis.PrometheusProvider) error { return p.Check(ctx, t) })
}

func (s *servicePrometheus) try(ctx context.Context, f func(*analysis.PrometheusProvider) error) error {
	for i := 0; ; i++ {
		p, err := s.provider(ctx)
		if err != nil {
			return err
		}
		if err = f(p); err == nil || i == 1 || ctx.Err() != nil {
			return err
		}
		s.close() // the next round forwards to a pod again
	}
}

// provider is the Prometheus behind the current port-forward, made if there is none.
func (s *servicePrometheus) provider(ctx context.Context) (*analysis.PrometheusProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur, nil
	}
	pod, port, err := s.target(ctx)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx)) // as long as the run: close ends it
	local, err := kube.PortForward(fctx, s.r.d.Clients.Config, s.r.d.Clients.Typed, s.svc.Namespace, pod, port)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %v (the run needs create pods/portforward in namespace %s)", config.InPromService, kube.Explain(err), s.svc.Namespace)
	}
	p, err := analysis.NewPrometheusProvider("http://127.0.0.1:"+strconv.Itoa(local), s.auth, s.q,
		[3]string{config.InPromService, config.InErrorQuery, config.InLatencyQ})
	if err != nil {
		cancel()
		return nil, err
	}
	s.cur, s.stop = p, cancel
	return p, nil
}

// target is a Ready pod behind the Service and the container port the Service port sends to.
func (s *servicePrometheus) target(ctx context.Context) (string, int, error) {
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

// close ends the current port-forward.
func (s *servicePrometheus) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	s.cur, s.stop = nil, nil
}
