package deploy

import (
	"crypto/tls"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Smoke tests speak the readiness probe's language: its scheme and its headers.

// readinessGet is the first container's readiness httpGet (nil without one).
func readinessGet(spec corev1.PodSpec) *corev1.HTTPGetAction {
	for _, c := range spec.Containers {
		if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
			return p.HTTPGet
		}
	}
	return nil
}

// probeHTTPS reports whether the readiness probe asks over HTTPS.
func probeHTTPS(spec corev1.PodSpec) bool {
	g := readinessGet(spec)
	return g != nil && g.Scheme == corev1.URISchemeHTTPS
}

// probeHeaders are the readiness probe's httpHeaders (Host among them sets the request's host).
func probeHeaders(spec corev1.PodSpec) http.Header {
	h := http.Header{}
	if g := readinessGet(spec); g != nil {
		for _, kv := range g.HTTPHeaders {
			h.Add(kv.Name, kv.Value)
		}
	}
	return h
}

// withHeaders is client sending h with every request (client itself when h is empty).
func withHeaders(client *http.Client, h http.Header) *http.Client {
	if len(h) == 0 {
		return client
	}
	c := *orClient(client)
	c.Transport = headerTransport{base: c.Transport, h: h}
	return &c
}

// insecure is client without verification of the server's certificate: for a pod's own
// certificate asked on 127.0.0.1 through a port-forward, as a kubelet's HTTPS probe asks.
func insecure(client *http.Client) *http.Client {
	c := *orClient(client)
	base := c.Transport
	if ht, ok := base.(headerTransport); ok {
		base = ht.base
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if bt, ok := base.(*http.Transport); ok && bt != nil {
		t = bt.Clone()
	}
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the pod's own certificate, as a kubelet's probe
	if ht, ok := c.Transport.(headerTransport); ok {
		c.Transport = headerTransport{base: t, h: ht.h}
	} else {
		c.Transport = t
	}
	return &c
}

func orClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

type headerTransport struct {
	base http.RoundTripper
	h    http.Header
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.h {
		if http.CanonicalHeaderKey(k) == "Host" && len(v) > 0 {
			req.Host = v[0]
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}
