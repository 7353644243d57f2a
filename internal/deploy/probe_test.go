package deploy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A smoke test asks as the readiness probe does: over HTTPS without verifying the pod's own
// certificate, with the probe's headers.
func TestSmokeClientSpeaksTheProbesLanguage(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Probe") != "shepherd" || r.Host != "app.internal" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	spec := corev1.PodSpec{Containers: []corev1.Container{{ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/", Scheme: corev1.URISchemeHTTPS,
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "shepherd"}, {Name: "Host", Value: "app.internal"}}}}}}}}
	if !probeHTTPS(spec) {
		t.Fatal("probeHTTPS = false for scheme HTTPS")
	}
	plain := &http.Client{}
	if _, err := plain.Get(srv.URL); err == nil {
		t.Fatal("the test server's certificate verified: the test proves nothing")
	}
	client := insecure(withHeaders(plain, probeHeaders(spec)))
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200 (headers and Host sent)", resp.StatusCode)
	}
	if resp, err := insecure(plain).Get(srv.URL); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("without the headers: %v %v, want 403", resp, err)
	}
}
