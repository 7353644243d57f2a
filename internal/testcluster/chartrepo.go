package testcluster

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/repo"
)

// ChartRepo is a classic Helm chart repository as static hosting serves one — packaged
// archives and an index.yaml that `helm repo index` wrote — over HTTPS with basic auth.
type ChartRepo struct {
	URL      string
	User     string
	Password string
	// Requests counts the requests it answered.
	Requests atomic.Int32

	dir  string
	fail atomic.Int32
}

// StartChartRepo serves an empty repository with one user; it stops when the test ends.
func StartChartRepo(t testing.TB, ca *CA) *ChartRepo {
	t.Helper()
	dir := t.TempDir()
	r := &ChartRepo{User: "charts", Password: "repo-pass-" + filepath.Base(dir), dir: dir}
	files := http.StripPrefix("/stable", http.FileServer(http.Dir(dir)))
	addr := serveHTTPS(t, ca, "chartrepo-"+filepath.Base(dir), http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Requests.Add(1)
		if r.fail.Add(-1) >= 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		r.fail.Store(0)
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.User)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(r.Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, req)
	}))
	r.URL = "https://" + addr + "/stable"
	if err := (&repo.IndexFile{APIVersion: repo.APIVersionV1, Entries: map[string]repo.ChartVersions{}}).WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// FailNext makes the next n requests answer 503 (an overloaded host).
func (r *ChartRepo) FailNext(n int) { r.fail.Store(int32(n)) }

// Publish packages the chart at dir as version into the repository and indexes it again, as
// `helm package` and `helm repo index` do, returning the archive's digest.
func (r *ChartRepo) Publish(t testing.TB, dir, version string) string {
	t.Helper()
	data, ch := Package(t, dir, version)
	name := fmt.Sprintf("%s-%s.tgz", ch.Metadata.Name, version)
	if err := os.WriteFile(filepath.Join(r.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := repo.IndexDirectory(r.dir, r.URL)
	if err != nil {
		t.Fatalf("helm repo index: %v", err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(r.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// IndexAt writes index.yaml again with every archive's URL under base (an index.yaml that
// points at another host, as one written elsewhere may).
func (r *ChartRepo) IndexAt(t testing.TB, base string) {
	t.Helper()
	idx, err := repo.IndexDirectory(r.dir, base)
	if err != nil {
		t.Fatalf("helm repo index: %v", err)
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(r.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Delete removes a published archive and leaves index.yaml naming it (an archive that
// answers 404).
func (r *ChartRepo) Delete(t testing.TB, name, version string) {
	t.Helper()
	if err := os.Remove(filepath.Join(r.dir, fmt.Sprintf("%s-%s.tgz", name, version))); err != nil {
		t.Fatal(err)
	}
}
