//go:build e2e

package analysis

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startPrometheus runs the real Prometheus (Debian's, as make test installs it) with
// --web.config.file basic auth for user, and returns its address.
func startPrometheus(t *testing.T, user, password string) string {
	return startPrometheusScraping(t, user, password, "")
}

// startPrometheusScraping is startPrometheus scraping target (host:port) every second, when
// set.
func startPrometheusScraping(t *testing.T, user, password, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("needs Prometheus (make test installs Debian's): %v", err)
	}
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	web := fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash)
	cfg := "global: {scrape_interval: 1s}\nscrape_configs: []\n"
	if target != "" {
		cfg = "global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n- job_name: app\n  honor_labels: true\n  static_configs: [{targets: [\"" + target + "\"]}]\n"
	}
	for name, body := range map[string]string{"web.yml": web, "prometheus.yml": cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--web.config.file="+filepath.Join(dir, "web.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/-/ready", nil)
		req.SetBasicAuth(user, password)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Basic auth in the URL, against the real Prometheus's own --web.config.file: the right
// password reads, a wrong one is a 401 that never quotes it.
func TestPrometheusBasicAuth(t *testing.T) {
	t.Parallel()
	addr := startPrometheus(t, "shepherd", "pr0m-pass")
	p, err := NewPrometheusWith("http://shepherd:pr0m-pass@"+addr, Auth{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := p.Query(context.Background(), "vector(7)"); err != nil || s.Value != 7 {
		t.Fatalf("%v %v", s, err)
	}
	bad, _ := NewPrometheusWith("http://shepherd:wrong-pass-1@"+addr, Auth{}, nil)
	_, err = bad.Query(context.Background(), "vector(7)")
	if err == nil || strings.Contains(err.Error(), "wrong-pass-1") || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong password: %v", err)
	}
}

// A token and a tenant header, as Grafana Cloud, Mimir or a Thanos gateway take them: a
// gateway that refuses requests without them, in front of the real Prometheus.
func TestPrometheusTokenAndHeaders(t *testing.T) {
	t.Parallel()
	addr := startPrometheus(t, "gateway", "upstream-pass")
	up, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(up)
	gw := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer glc_tok3n" || r.Header.Get("X-Scope-OrgID") != "tenant-1" {
			http.Error(w, "no tenant or token", http.StatusUnauthorized)
			return
		}
		r.SetBasicAuth("gateway", "upstream-pass")
		proxy.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gw.Serve(ln) }()
	t.Cleanup(func() { gw.Close() })
	url := "http://" + ln.Addr().String()
	p, _ := NewPrometheusWith(url, Auth{Token: "glc_tok3n", Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}}, nil)
	if s, err := p.Query(context.Background(), "vector(3)"); err != nil || s.Value != 3 {
		t.Fatalf("with the token and the tenant: %v %v", s, err)
	}
	without, _ := NewPrometheusWith(url, Auth{Token: "glc_tok3n"}, nil)
	if _, err := without.Query(context.Background(), "vector(3)"); err == nil || strings.Contains(err.Error(), "glc_tok3n") {
		t.Errorf("without the tenant header: %v", err)
	}
}
