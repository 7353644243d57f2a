//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A local chart with a dependency on the registry (or https repository) that
// registry_username/registry_password are for, and one on a second private registry (Debian's
// docker-registry behind a recording proxy): deployed through the action, the second registry
// is asked anonymously — it records no Authorization header — and the run fails in pre-flight
// naming that host, with nothing written and no password shown.
func TestRegistryCredentialsStayWithTheirRegistry(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	reg := testcluster.StartRegistry(t, c.CA())
	cr := testcluster.StartChartRepo(t, c.CA())
	other := testcluster.StartRegistry(t, c.CA())
	reg.Push(t, exampleChart(), "charts", "1.4.1")
	cr.Publish(t, exampleChart(), "2.0.0")
	other.Push(t, exampleChart(), "libs", "1.4.1")
	rec := testcluster.StartRecorder(t, c.CA(), "https://"+other.Host)
	crHost := strings.TrimSuffix(strings.TrimPrefix(cr.URL, "https://"), "/stable")
	for _, tc := range []struct {
		name, repo, user, password, first, host string
	}{
		{"an OCI registry's credentials", "oci://" + reg.Host, reg.User, reg.Password,
			"- name: example-app\n  version: ~1.4\n  repository: oci://" + reg.Host + "/charts\n", reg.Host},
		{"an https repository's credentials", cr.URL, cr.User, cr.Password,
			"- name: example-app\n  version: 2.0.0\n  repository: " + cr.URL + "\n", crHost},
	} {
		dir := filepath.Join(t.TempDir(), "umbrella")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// The second registry's dependency first: Helm maps repositories by chart name, the
		// last of two same-named dependencies must be the repository's.
		y := "apiVersion: v2\nname: umbrella\nversion: 0.3.0\ndependencies:\n" +
			"- name: example-app\n  alias: other\n  version: 1.4.1\n  repository: oci://" + rec.Host + "/libs\n" + tc.first
		if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		asked := len(rec.Requests())
		r := runAction(t, deployInputs(c, ns, "1.0.0", "chart", dir, "chart_repository", tc.repo,
			"registry_username", tc.user, "registry_password", tc.password, "registry_ca", string(c.CA().PEM())))
		want(t, tc.name+": status", r.Outputs["status"], "failed")
		for _, w := range []string{rec.Host + " refused an anonymous request", "go only to " + tc.host, "nothing was changed"} {
			if !strings.Contains(r.Stdout, w) {
				t.Errorf("%s: the failure does not say %q:\n%s", tc.name, w, r.Stdout)
			}
		}
		if len(rec.Requests()) == asked {
			t.Errorf("%s: the second registry was never asked (the test proves nothing)", tc.name)
		}
		if strings.Contains(actionrun.Unmasked(r.Stdout)+r.Summary, tc.password) {
			t.Errorf("%s: the password shows in the log or summary", tc.name)
		}
	}
	for _, q := range rec.Authorized() {
		t.Errorf("the second registry got credentials: %s %s Authorization: %s", q.Method, q.Path, q.Authorization)
	}
	if h := history(t, c, ns, "web"); len(h) != 0 {
		t.Errorf("the refused runs wrote revisions: %v", h)
	}
}
