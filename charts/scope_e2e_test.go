//go:build e2e

package charts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// Credentials go only to the host the source names. Each second host is a real server
// (Debian's docker-registry, or the test chart repository) behind a recording reverse proxy
// that keeps every Authorization header it is sent.

// umbrella writes a local chart with the given dependencies (name, alias, version,
// repository) and no charts/ directory.
func umbrella(t *testing.T, deps ...[4]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "umbrella")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	y := "apiVersion: v2\nname: umbrella\nversion: 0.3.0\ndependencies:\n"
	for _, d := range deps {
		y += "- name: " + d[0] + "\n  version: \"" + d[2] + "\"\n  repository: " + d[3] + "\n"
		if d[1] != "" {
			y += "  alias: " + d[1] + "\n"
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func noneAuthorized(t *testing.T, what string, rec *testcluster.Recorder) {
	t.Helper()
	if len(rec.Requests()) == 0 {
		t.Errorf("%s: the second host was never asked (the test proves nothing)", what)
	}
	for _, q := range rec.Authorized() {
		t.Errorf("%s: the second host got credentials: %s %s Authorization: %s", what, q.Method, q.Path, q.Authorization)
	}
}

// A local chart with one dependency on the registry or repository its credentials are for,
// and one on a second (public) registry: the second is asked anonymously, and the chart builds.
func TestCredentialsGoOnlyToTheirHost(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	reg := testcluster.StartRegistry(t, ca)
	cr := testcluster.StartChartRepo(t, ca)
	pub := testcluster.StartPublicRegistry(t, ca)
	reg.Push(t, exampleChart, "charts", "1.4.1")
	cr.Publish(t, exampleChart, "2.0.0")
	pub.Push(t, exampleChart, "libs", "1.4.1")
	rec := testcluster.StartRecorder(t, ca, "https://"+pub.Host)
	second := [4]string{"example-app", "other", "1.4.1", "oci://" + rec.Host + "/libs"}

	t.Run("registry_username for an https repository", func(t *testing.T) {
		// The OCI dependency first: Helm's dependency manager maps repositories by chart name,
		// and the last of two same-named dependencies must be the repository's.
		dir := umbrella(t, second, [4]string{"example-app", "", "2.0.0", cr.URL})
		_, err := resolve(t, charts.Source{Chart: dir, Repository: cr.URL, Username: cr.User, Password: cr.Password, CA: ca.PEM()})
		if err != nil {
			t.Fatal(err)
		}
		noneAuthorized(t, "repository credentials", rec)
	})
	t.Run("registry_username for an OCI registry", func(t *testing.T) {
		dir := umbrella(t, [4]string{"example-app", "", "~1.4", "oci://" + reg.Host + "/charts"}, second)
		_, err := resolve(t, charts.Source{Chart: dir, Repository: "oci://" + reg.Host, Username: reg.User, Password: reg.Password, CA: ca.PEM()})
		if err != nil {
			t.Fatal(err)
		}
		noneAuthorized(t, "registry credentials", rec)
	})
}

// A dependency on a second registry that asks for credentials (a private one, or one that
// would harvest them) is asked anonymously, whichever host the credentials are for, and its
// refusal names that host and says why it got none. (A public registry never asks, so only
// a registry that asks shows where credentials would go.)
func TestARefusalNamesTheHost(t *testing.T) {
	t.Parallel()
	fastRetries(t)
	ca := newCA(t)
	reg := testcluster.StartRegistry(t, ca)
	cr := testcluster.StartChartRepo(t, ca)
	other := testcluster.StartRegistry(t, ca)
	reg.Push(t, exampleChart, "charts", "1.4.1")
	cr.Publish(t, exampleChart, "2.0.0")
	other.Push(t, exampleChart, "libs", "1.4.1")
	rec := testcluster.StartRecorder(t, ca, "https://"+other.Host)
	second := [4]string{"example-app", "other", "1.4.1", "oci://" + rec.Host + "/libs"}
	for name, tc := range map[string]struct {
		src   charts.Source
		first [4]string
		host  string
	}{
		"an https repository's": {charts.Source{Repository: cr.URL, Username: cr.User, Password: cr.Password}, [4]string{"example-app", "", "2.0.0", cr.URL}, strings.TrimPrefix(strings.TrimSuffix(cr.URL, "/stable"), "https://")},
		"an OCI registry's":     {charts.Source{Repository: "oci://" + reg.Host, Username: reg.User, Password: reg.Password}, [4]string{"example-app", "", "~1.4", "oci://" + reg.Host + "/charts"}, reg.Host},
	} {
		src := tc.src
		src.Chart, src.CA = umbrella(t, second, tc.first), ca.PEM()
		_, err := resolve(t, src)
		msg := mustFail(t, name+" credentials, a dependency on another private registry", err, rec.Host, "anonymous", "go only to "+tc.host)
		if strings.Contains(msg, src.Password) {
			t.Errorf("the error quotes the password: %s", msg)
		}
	}
	noneAuthorized(t, "a private second registry", rec)
	asked := len(rec.Requests())
	// Without chart_repository, credentials for a chart whose dependencies are on two
	// registries have no one host to go to: refused before any request.
	dir := umbrella(t, second, [4]string{"example-app", "", "~1.4", "oci://" + reg.Host + "/charts"})
	_, err := resolve(t, charts.Source{Chart: dir, Username: reg.User, Password: reg.Password, CA: ca.PEM()})
	mustFail(t, "two registries and no chart_repository", err, "registry_password", "chart_repository", reg.Host, rec.Host)
	if n := len(rec.Requests()); n != asked {
		t.Errorf("%d requests reached the second registry before the refusal", n-asked)
	}
}

// An index.yaml whose archive URLs point at another host does not take the repository's
// credentials there (the user info of chart_repository's URL, or registry_username's), and the
// refusal names that host.
func TestAnIndexCannotRedirectCredentials(t *testing.T) {
	t.Parallel()
	fastRetries(t)
	ca := newCA(t)
	cr := testcluster.StartChartRepo(t, ca)
	cr.Publish(t, exampleChart, "2.0.0")
	rec := testcluster.StartRecorder(t, ca, cr.URL) // the same files, on another host:port
	cr.IndexAt(t, "https://"+rec.Host+"/stable")
	withInfo := strings.Replace(cr.URL, "https://", "https://"+cr.User+":"+cr.Password+"@", 1)
	for name, src := range map[string]charts.Source{
		"registry_username": {Chart: "example-app", Repository: cr.URL, Username: cr.User, Password: cr.Password, CA: ca.PEM()},
		"user info":         {Chart: "example-app", Repository: withInfo, CA: ca.PEM()},
	} {
		_, err := resolve(t, src)
		if msg := mustFail(t, name, err, "chart_repository", rec.Host, "401"); strings.Contains(msg, cr.Password) {
			t.Errorf("%s: the error quotes the password: %s", name, msg)
		}
	}
	noneAuthorized(t, "an archive URL on another host", rec)
}
