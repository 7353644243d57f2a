//go:build e2e

package charts_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// These run against a real OCI registry (Debian's docker-registry, htpasswd auth, TLS from a
// CA of the test's) and a real chart repository (archives and index.yaml over HTTPS with
// basic auth, as static hosting serves them), both on loopback.

var exampleChart = filepath.Join(actionrun.Root(), "examples", "chart")

func newCA(t *testing.T) *testcluster.CA {
	t.Helper()
	ca, err := testcluster.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func fastRetries(t *testing.T) {
	saved := charts.Backoff
	charts.Backoff = 20 * time.Millisecond
	t.Cleanup(func() { charts.Backoff = saved })
}

func resolve(t *testing.T, s charts.Source) (*charts.Resolved, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return charts.Resolve(ctx, s)
}

func mustFail(t *testing.T, what string, err error, want ...string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the error does not say %q:\n%v", what, w, err)
		}
	}
	return err.Error()
}

func TestOCI(t *testing.T) {
	t.Parallel()
	fastRetries(t)
	ca := newCA(t)
	reg := testcluster.StartRegistry(t, ca)
	digests := map[string]string{}
	for _, v := range []string{"1.4.0", "1.4.1", "1.5.0", "1.6.0-rc.1"} {
		digests[v] = reg.Push(t, exampleChart, "charts", v)
	}
	ref := "oci://" + reg.Host + "/charts/example-app"
	src := charts.Source{Chart: ref, Username: reg.User, Password: reg.Password, CA: ca.PEM()}

	for _, tc := range []struct{ version, want string }{{"~1.4", "1.4.1"}, {"", "1.5.0"}, {"1.4.0", "1.4.0"}, {">=1.5.0-0", "1.6.0-rc.1"}} {
		s := src
		s.Version = tc.version
		res, err := resolve(t, s)
		if err != nil {
			t.Fatalf("version %q: %v", tc.version, err)
		}
		if res.Version != tc.want || res.Digest != digests[tc.want] || res.Kind != charts.OCI || res.Ref != ref+":"+tc.want {
			t.Errorf("version %q: got %s %s %s, want %s %s", tc.version, res.Ref, res.Version, res.Digest, tc.want, digests[tc.want])
		}
		if res.Chart.Metadata.Annotations[charts.AnnotationDigest] != res.Digest {
			t.Errorf("the chart does not carry its digest for the release record: %v", res.Chart.Metadata.Annotations)
		}
	}
	t.Run("the version in the reference", func(t *testing.T) {
		s := src
		s.Chart = ref + ":1.4.0"
		if res, err := resolve(t, s); err != nil || res.Version != "1.4.0" {
			t.Fatalf("%v %v", res, err)
		}
	})
	t.Run("pinned", func(t *testing.T) {
		s := src
		s.Version, s.Digest = "1.4.1", digests["1.4.1"]
		if _, err := resolve(t, s); err != nil {
			t.Fatal(err)
		}
		s.Digest = digests["1.4.0"]
		mustFail(t, "another chart's digest", func() error { _, err := resolve(t, s); return err }(), "chart_digest", digests["1.4.1"], "refused")
	})
	t.Run("an unknown version names the newest", func(t *testing.T) {
		for _, v := range []string{"9.9.9", "~2.0"} {
			s := src
			s.Version = v
			_, err := resolve(t, s)
			mustFail(t, v, err, "chart_version", "no version "+v, "1.6.0-rc.1, 1.5.0, 1.4.1, 1.4.0")
		}
	})
	t.Run("no such chart", func(t *testing.T) {
		s := src
		s.Chart = "oci://" + reg.Host + "/charts/nope"
		_, err := resolve(t, s)
		mustFail(t, "a missing chart", err, "chart:", "no such chart")
	})
	t.Run("credentials", func(t *testing.T) {
		s := src
		s.Password = "wrong-password-xyz"
		_, err := resolve(t, s)
		msg := mustFail(t, "a wrong password", err, "chart:", reg.Host, "401", "registry_username", "registry_password", "were refused")
		if strings.Contains(msg, "wrong-password-xyz") {
			t.Errorf("the error quotes the password: %s", msg)
		}
		s.Username, s.Password = "", ""
		_, err = resolve(t, s)
		mustFail(t, "no credentials", err, "no credentials were given", "registry_password")
	})
	t.Run("an untrusted certificate", func(t *testing.T) {
		s := src
		s.CA = nil
		_, err := resolve(t, s)
		mustFail(t, "no CA", err, "chart:", "not trusted", "registry_ca")
	})
}

// A registry that is down: retried with backoff, then a pre-flight error naming it.
func TestOCIRegistryDown(t *testing.T) {
	t.Parallel()
	fastRetries(t)
	ca := newCA(t)
	reg := testcluster.StartRegistry(t, ca)
	reg.Push(t, exampleChart, "charts", "1.0.0")
	reg.Stop()
	start := time.Now()
	_, err := resolve(t, charts.Source{Chart: "oci://" + reg.Host + "/charts/example-app", Version: "~1.0", Username: reg.User, Password: reg.Password, CA: ca.PEM()})
	mustFail(t, "the registry down", err, "chart:", reg.Host, "unreachable after 4 tries", "connection refused")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("gave up after %s", d)
	}
	// A cancelled run (the runner's SIGINT) stops waiting at once, between retries too.
	charts.Backoff = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := charts.Resolve(ctx, charts.Source{Chart: "oci://" + reg.Host + "/charts/example-app", Version: "1.0.0", CA: ca.PEM()}); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a cancelled resolution took %s", d)
	}
}

func TestRepository(t *testing.T) {
	t.Parallel()
	fastRetries(t)
	ca := newCA(t)
	cr := testcluster.StartChartRepo(t, ca)
	digests := map[string]string{}
	for _, v := range []string{"1.4.0", "1.4.1", "2.0.0"} {
		digests[v] = cr.Publish(t, exampleChart, v)
	}
	src := charts.Source{Chart: "example-app", Version: "~1.4", Repository: cr.URL, Username: cr.User, Password: cr.Password, CA: ca.PEM()}
	res, err := resolve(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != charts.Repository || res.Version != "1.4.1" || res.Digest != digests["1.4.1"] || res.Ref != cr.URL+" example-app 1.4.1" {
		t.Errorf("got %+v", res)
	}
	t.Run("retried through a 503", func(t *testing.T) {
		cr.FailNext(2)
		if _, err := resolve(t, src); err != nil {
			t.Fatalf("two 503s then an answer: %v", err)
		}
		cr.FailNext(100)
		_, err := resolve(t, src)
		mustFail(t, "an overloaded repository", err, "chart_repository", "503", "4 times")
		cr.FailNext(0)
	})
	t.Run("failures name the input", func(t *testing.T) {
		s := src
		s.Password = "nope-pass-123"
		_, err := resolve(t, s)
		if msg := mustFail(t, "a wrong password", err, "chart_repository", "401", "registry_password"); strings.Contains(msg, "nope-pass-123") {
			t.Errorf("the error quotes the password: %s", msg)
		}
		s = src
		s.Chart = "web"
		_, err = resolve(t, s)
		mustFail(t, "an unknown chart", err, "chart:", `no chart "web"`, "example-app")
		s = src
		s.Version = "3.x"
		_, err = resolve(t, s)
		mustFail(t, "an unknown version", err, "chart_version", "2.0.0, 1.4.1, 1.4.0")
		s = src
		s.Digest = digests["2.0.0"]
		_, err = resolve(t, s)
		mustFail(t, "a digest mismatch", err, "chart_digest", digests["1.4.1"])
	})
}

// A local chart whose dependencies come from the registry and the repository, with charts/
// missing, then stale: built as `helm dependency build` would, the repository's credentials
// sent to the repository only.
func TestLocalDependencies(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	reg := testcluster.StartPublicRegistry(t, ca) // the credentials are the repository's only
	cr := testcluster.StartChartRepo(t, ca)
	reg.Push(t, exampleChart, "charts", "1.4.1")
	reg.Push(t, exampleChart, "charts", "1.4.2")
	cr.Publish(t, exampleChart, "2.0.0")
	dir := filepath.Join(t.TempDir(), "umbrella")
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	chartYAML := `apiVersion: v2
name: umbrella
version: 0.3.0
dependencies:
- name: example-app
  version: "~1.4"
  repository: oci://` + reg.Host + `/charts
- name: example-app
  alias: legacy
  version: "2.0.0"
  repository: ` + cr.URL + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(chartYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	src := charts.Source{Chart: dir, Repository: cr.URL, Username: cr.User, Password: cr.Password, CA: ca.PEM()}
	res, err := resolve(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != charts.Local || len(res.Built) != 2 || len(res.Chart.Dependencies()) != 2 {
		t.Fatalf("built %v, %d dependencies", res.Built, len(res.Chart.Dependencies()))
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.lock")); err != nil {
		t.Errorf("no Chart.lock written: %v", err)
	}
	// Nothing to build the second time.
	if res, err = resolve(t, src); err != nil || len(res.Built) != 0 {
		t.Fatalf("second resolve: built %v, %v", res.Built, err)
	}
	// Stale: charts/ holds an archive Chart.lock does not name.
	if err := os.Remove(filepath.Join(dir, "charts", "example-app-2.0.0.tgz")); err != nil {
		t.Fatal(err)
	}
	res, err = resolve(t, src)
	if err != nil || len(res.Built) != 1 || !strings.Contains(res.Built[0], "example-app 2.0.0 (charts/ has 1.4.2)") {
		t.Fatalf("after charts/ lost one: built %v, %v", res.Built, err)
	}
	// Wrong credentials: the build fails naming the inputs.
	if err := os.RemoveAll(filepath.Join(dir, "charts")); err != nil {
		t.Fatal(err)
	}
	bad := src
	bad.Password = "bad-pass-777"
	_, err = resolve(t, bad)
	if msg := mustFail(t, "a build with a wrong password", err, "helm dependency build", "registry_password"); strings.Contains(msg, "bad-pass-777") {
		t.Errorf("the error quotes the password: %s", msg)
	}
}

// Nothing is left in the runner's home (Helm's config, cache and registry credentials would go
// there by default), nor in the temporary directory.
func TestNothingLeftBehind(t *testing.T) {
	home, tmp := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("TMPDIR", tmp)
	ca := newCA(t)
	reg := testcluster.StartPublicRegistry(t, ca) // the umbrella's registry dependency is public: the credentials are the repository's
	cr := testcluster.StartChartRepo(t, ca)
	reg.Push(t, exampleChart, "charts", "1.0.0")
	cr.Publish(t, exampleChart, "1.0.0")
	cr.User, cr.Password = reg.User, reg.Password
	dir := filepath.Join(t.TempDir(), "umbrella")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// (OCI first: Helm's resolver keys repositories by dependency name, so of two same-named
	// dependencies the repository's must come last.)
	y := "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: example-app\n  version: 1.0.0\n  repository: oci://" + reg.Host +
		"/charts\n- name: example-app\n  alias: again\n  version: 1.0.0\n  repository: " + cr.URL + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := charts.Source{Username: reg.User, Password: reg.Password, CA: ca.PEM()}
	for _, s := range []charts.Source{
		{Chart: "oci://" + reg.Host + "/charts/example-app", Version: "1.0.0"},
		{Chart: "example-app", Repository: cr.URL},
		{Chart: dir, Repository: cr.URL},
	} {
		s.Username, s.Password, s.CA = creds.Username, creds.Password, creds.CA
		if _, err := resolve(t, s); err != nil {
			t.Fatalf("%s: %v", s.Chart, err)
		}
	}
	for what, d := range map[string]string{"the home directory": home, "the temporary directory": tmp} {
		var left []string
		_ = filepath.Walk(d, func(p string, _ os.FileInfo, _ error) error {
			if p != d {
				left = append(left, strings.TrimPrefix(p, d))
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("%s holds %v after the charts were found", what, left)
		}
	}
}
