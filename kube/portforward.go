package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// PortForward forwards a free loopback port to the pod's port through the API server, as
// `kubectl port-forward pod/x PORT` does (client-go's portforward over SPDY), until ctx ends.
// It returns the local port once the forward is ready: no ingress, Service or pod network
// route is needed, only the right to create pods/portforward.
func PortForward(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, ns, pod string, port int) (int, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, err
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	go func() { <-ctx.Done(); close(stop) }()
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return 0, err
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	case <-ctx.Done():
		return 0, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, ctx.Err())
	case <-time.After(20 * time.Second):
		return 0, fmt.Errorf("port-forward to %s/%s: not ready after 20s", ns, pod)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		return 0, fmt.Errorf("port-forward to %s/%s: no local port: %v", ns, pod, err)
	}
	return int(ports[0].Local), nil
}
