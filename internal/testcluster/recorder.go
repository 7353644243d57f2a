package testcluster

import (
	"crypto/tls"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Recorder is a TLS reverse proxy (a certificate from a test CA) in front of a real server —
// a registry, a chart repository — that records every request's Authorization header, so a
// test can prove which credentials reached that host.
type Recorder struct {
	Host string // 127.0.0.1:PORT, the proxy's address

	mu   sync.Mutex
	seen []Recorded
}

// Recorded is one request the Recorder passed on.
type Recorded struct {
	Method, Path, Authorization string
}

// StartRecorder proxies to target (https://HOST[:PORT]) trusting ca; it stops when the test ends.
func StartRecorder(t testing.TB, ca *CA, target string) *Recorder {
	t.Helper()
	to, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(to)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}
	r.Host = serveHTTPS(t, ca, "recorder-"+to.Host, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, Recorded{req.Method, req.URL.Path, req.Header.Get("Authorization")})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	return r
}

// Requests are the requests recorded so far, in order.
func (r *Recorder) Requests() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.seen...)
}

// Authorized are the recorded requests that carried an Authorization header.
func (r *Recorder) Authorized() []Recorded {
	var out []Recorded
	for _, q := range r.Requests() {
		if q.Authorization != "" {
			out = append(out, q)
		}
	}
	return out
}
