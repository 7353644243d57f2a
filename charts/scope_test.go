package charts

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Plain http:// with credentials is refused before any request, naming the input; the local
// listener proves nothing was sent.
func TestPlainHTTPWithCredentialsRefused(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { asked.Add(1) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for name, s := range map[string]Source{
		"registry_username": {Chart: "web", Repository: srv.URL + "/charts", Username: "ci", Password: "pw-Hk29"},
		"user info":         {Chart: "web", Repository: "http://ci:pw-Hk29@" + host + "/charts"},
		"a local chart":     {Chart: t.TempDir(), Repository: srv.URL, Username: "ci", Password: "pw-Hk29"},
	} {
		_, err := Resolve(context.Background(), s)
		if err == nil || !strings.HasPrefix(err.Error(), "chart_repository: ") || !strings.Contains(err.Error(), "plain HTTP") {
			t.Errorf("%s: %v, want a refusal naming chart_repository", name, err)
		} else if strings.Contains(err.Error(), "pw-Hk29") {
			t.Errorf("%s: the error quotes the password: %v", name, err)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the listener got %d requests", n)
	}
}

// Errors leave the package without a URL's credentials or the password, and still unwrap.
func TestRedactError(t *testing.T) {
	cause := errors.New("inner")
	s := Source{Password: "pw-Hk29", Repository: "https://ci:url-Pw7@h/charts"}
	err := redact(errors.Join(errors.New("failed to fetch https://ci:url-Pw7@h/charts/web-1.0.0.tgz?token=tk-9 : 404 Not Found; pw-Hk29 was refused"), cause), s)
	want := "failed to fetch https://h/charts/web-1.0.0.tgz?token=*** : 404 Not Found; *** was refused\ninner"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	if !errors.Is(err, cause) {
		t.Error("the redacted error does not unwrap to its cause")
	}
	if redact(nil, s) != nil {
		t.Error("redact(nil) is not nil")
	}
}

// A repository URL with a password whose archive answers 404: the error names the archive's
// URL without the password (it used to quote https://user:password@…).
func TestArchive404QuotesNoPassword(t *testing.T) {
	const index = "apiVersion: v1\nentries:\n  web:\n  - apiVersion: v2\n    name: web\n    version: 1.0.0\n    urls: [web-1.0.0.tgz]\n"
	var auths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, p, _ := r.BasicAuth()
		auths = append(auths, p)
		if strings.HasSuffix(r.URL.Path, "/index.yaml") {
			_, _ = w.Write([]byte(index))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	repoURL := strings.Replace(srv.URL, "https://", "https://ci:s3cret-Q4@", 1) + "/charts"
	_, err := Resolve(context.Background(), Source{Chart: "web", Repository: repoURL, CA: ca})
	if err == nil || !strings.Contains(err.Error(), "web-1.0.0.tgz") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("got %v, want a 404 naming the archive", err)
	}
	if strings.Contains(err.Error(), "s3cret-Q4") {
		t.Errorf("the error quotes the password: %v", err)
	}
	if len(auths) != 2 || auths[0] != "s3cret-Q4" || auths[1] != "s3cret-Q4" {
		t.Errorf("the repository's own host got passwords %q, want the URL's on both requests", auths)
	}
}
