package deploy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// smoke runs the smoke tests on the pods of deployments (a colour that takes no traffic yet):
// each of smoke_paths — by default the readiness probe's httpGet path — must answer 2xx (and a
// JSON status, healthy) within smoke_timeout, asked on a ready pod through a port-forward via
// the API server (no ingress needed), or at preview_url when it is set. The evidence of a
// failure (path, code, body) is the signal's message, for the diagnosis.
func (r *run) smoke(ctx context.Context, deployments []string, via *strategy.SmokeVia) *diagnose.Signal {
	cfg, cs := r.cfg, r.d.Clients.Typed
	var spec *corev1.PodSpec
	var selector *metav1.LabelSelector
	for _, name := range deployments {
		d, err := cs.AppsV1().Deployments(cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return smokeSignal("Deployment/"+name, "cannot read it: %v", kube.Explain(err))
		}
		if spec == nil || (probePath(d.Spec.Template.Spec) != "" && probePath(*spec) == "") {
			spec, selector = &d.Spec.Template.Spec, d.Spec.Selector
		}
	}
	if spec == nil {
		return nil
	}
	paths := cfg.SmokePaths
	if len(paths) == 0 {
		if p := probePath(*spec); p != "" {
			paths = []string{p}
		}
	}
	if len(paths) == 0 {
		r.event(ctx, "smoke", Warn, "no smoke test: %s is empty and the pods have no readiness httpGet probe to default to", config.InSmokePaths)
		return nil
	}
	base, where, headers := smokeTarget(cfg.PreviewURL, probeHeaders(*spec), via)
	client := withHeaders(r.d.HTTP, headers)
	if base == "" {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var sig *diagnose.Signal
		if base, where, client, sig = r.forwardToPod(fctx, deployments[0], spec, selector, client); sig != nil {
			return sig
		}
	}
	for _, p := range paths {
		sctx, cancel := context.WithTimeout(ctx, cfg.SmokeTimeout)
		a, err := health.AskUntilHealthy(sctx, client, base+p, r.d.HealthInterval)
		cancel()
		if err != nil {
			obj := where
			if cfg.PreviewURL == "" && via == nil {
				obj = "Pod/" + strings.Fields(where)[1]
			}
			msg := fmt.Sprintf("GET %s: %v", p, err)
			if a.Body != "" {
				msg += "; body: " + a.Body
			}
			return &diagnose.Signal{Category: diagnose.HealthCheck, Object: obj, Reason: strategy.SmokeReason, Message: msg}
		}
		r.event(ctx, "smoke", Info, "GET %s on %s: HTTP %d", p, where, a.Code)
	}
	return nil
}

// smokeTarget is where the smoke tests ask, and with which headers: preview_url, else the
// gateway a preview rule is served at ("": a port-forward); the probe's headers, and the
// preview rule's header when there is one.
func smokeTarget(previewURL string, probe http.Header, via *strategy.SmokeVia) (base, where string, headers http.Header) {
	base, where, headers = strings.TrimRight(previewURL, "/"), previewURL, probe
	if via != nil {
		if base == "" {
			base, where = via.Base, via.Where
		}
		headers = mergeHeaders(headers, via.Header)
	}
	return base, where, headers
}

func smokeSignal(obj, format string, a ...any) *diagnose.Signal {
	return &diagnose.Signal{Category: diagnose.HealthCheck, Object: obj, Reason: strategy.SmokeReason, Message: fmt.Sprintf(format, a...)}
}

// readyPod names a Ready pod the selector selects.
func (r *run) readyPod(ctx context.Context, sel *metav1.LabelSelector) (string, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", err
	}
	pods, err := r.d.Clients.Typed.CoreV1().Pods(r.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		return "", kube.Explain(err)
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && podutils.IsPodReady(p) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no ready pod selected by %s", s)
}

// probePath is the first container's readiness httpGet path ("" without one).
func probePath(spec corev1.PodSpec) string {
	for _, c := range spec.Containers {
		if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
			return words.OrDefault(p.HTTPGet.Path, "/")
		}
	}
	return ""
}

// probePort is the port the smoke tests ask: the readiness probe's (a named port resolved
// through the container's ports), else the first container port, else 80.
func probePort(spec corev1.PodSpec) int {
	for _, c := range spec.Containers {
		if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
			if p.HTTPGet.Port.IntValue() > 0 {
				return p.HTTPGet.Port.IntValue()
			}
			for _, cp := range c.Ports {
				if cp.Name == p.HTTPGet.Port.StrVal {
					return int(cp.ContainerPort)
				}
			}
		}
	}
	for _, c := range spec.Containers {
		if len(c.Ports) > 0 {
			return int(c.Ports[0].ContainerPort)
		}
	}
	return 80
}

// forwardToPod opens a port-forward to a ready pod of selector (until ctx ends) and returns the
// base URL to ask there, in the probe's scheme (HTTPS: the pod's own certificate, on
// 127.0.0.1, is not verified, as a kubelet does not), and a description of where that is.
func (r *run) forwardToPod(ctx context.Context, deployment string, spec *corev1.PodSpec, selector *metav1.LabelSelector, client *http.Client) (string, string, *http.Client, *diagnose.Signal) {
	pod, err := r.readyPod(ctx, selector)
	if err != nil {
		return "", "", client, smokeSignal("Deployment/"+deployment, "%v", err)
	}
	port := probePort(*spec)
	local, err := kube.PortForward(ctx, r.d.Clients.Config, r.d.Clients.Typed, r.cfg.Namespace, pod, port)
	if err != nil {
		return "", "", client, smokeSignal("Pod/"+pod, "%v", kube.Explain(err))
	}
	scheme := "http"
	if probeHTTPS(*spec) {
		scheme, client = "https", insecure(client)
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, local), fmt.Sprintf("pod %s port %d (port-forward, %s)", pod, port, scheme), client, nil
}

// mergeHeaders is a and b together (b's values win).
func mergeHeaders(a, b http.Header) http.Header {
	out := http.Header{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out
}
