//go:build e2e

package dataplane

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// A canary judged on a Prometheus behind a gateway that wants a bearer token and a tenant
// header (as Grafana Cloud, Mimir or a Thanos gateway do), in front of the data plane's
// Prometheus: with prometheus_token and prometheus_headers it is judged on its metrics and
// promoted, the token never in the log; without the tenant header the pre-flight check
// refuses before anything is written.
func TestCanaryPrometheusBehindAGateway(t *testing.T) {
	t.Parallel()
	c, ns := withStable(t)
	up, err := url.Parse(c.PrometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(up)
	gw := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer glc_s3cr3t-token" || r.Header.Get("X-Scope-OrgID") != "tenant-1" {
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gw.Serve(ln) }()
	t.Cleanup(func() { gw.Close() })
	gateway := "http://" + ln.Addr().String()

	r := runAction(t, canaryInputs(c, ns, "2.0.0", "prometheus_url", gateway, "prometheus_token", "glc_s3cr3t-token",
		"prometheus_headers", "X-Scope-OrgID: tenant-1"))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	contains(t, "the log", r.Stdout, "judging pod health, error rate")
	if strings.Contains(unmasked(r.Stdout)+r.Summary, "glc_s3cr3t-token") {
		t.Errorf("the token shows in the log or summary")
	}
	before := workloadState(t, c, ns)
	r = runAction(t, canaryInputs(c, ns, "3.0.0", "prometheus_url", gateway, "prometheus_token", "glc_s3cr3t-token"))
	if r.Exit == 0 {
		t.Fatalf("no tenant header, yet the canary ran:\n%s", r.Stdout)
	}
	contains(t, "the refusal", r.Stdout, "prometheus_url")
	contains(t, "the refusal", r.Stdout, "401")
	if after := workloadState(t, c, ns); after != before {
		t.Errorf("the refused run wrote:\n%s\n%s", before, after)
	}
}
