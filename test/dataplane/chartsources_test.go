//go:build e2e

package dataplane

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/actionrun"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// Charts from where teams keep them, on every strategy: a real OCI registry (Debian's
// docker-registry with htpasswd auth and TLS from the cluster's CA) and a real chart
// repository (archives and index.yaml over HTTPS with basic auth). Each strategy deploys from
// the registry with a range, upgrades from the repository, then from a local chart whose
// dependency comes from the registry (built as helm dependency build does); bad sources —
// a wrong password, a digest that differs, a version that does not exist, a registry that is
// down — fail in pre-flight with the cluster untouched; the Service keeps its 2 ready
// endpoints throughout.

type chartServers struct {
	reg, down *testcluster.Registry
	repo      *testcluster.ChartRepo
	ca        string
	ociDigest map[string]string
	repoDig   string
}

func startChartServers(t *testing.T, c *testcluster.Cluster) *chartServers {
	t.Helper()
	example := filepath.Join(actionrun.Root(), "examples", "chart")
	s := &chartServers{ca: string(c.CA().PEM()), ociDigest: map[string]string{}}
	s.reg = testcluster.StartRegistry(t, c.CA())
	for _, v := range []string{"1.4.0", "1.4.1", "1.5.0"} {
		s.ociDigest[v] = s.reg.Push(t, example, "charts", v)
	}
	s.down = testcluster.StartRegistry(t, c.CA())
	s.down.Push(t, example, "charts", "1.4.1")
	s.down.Stop()
	s.repo = testcluster.StartChartRepo(t, c.CA())
	s.repoDig = s.repo.Publish(t, example, "2.0.0")
	return s
}

// oci are the inputs of the registry's chart at a range.
func (s *chartServers) oci(version string) []string {
	return []string{"chart", "oci://" + s.reg.Host + "/charts/example-app", "chart_version", version,
		"registry_username", s.reg.User, "registry_password", s.reg.Password, "registry_ca", s.ca}
}

// umbrella writes a local chart whose only dependency is the registry's example-app ~1.4,
// with no charts/ directory: the deploy builds it.
func (s *chartServers) umbrella(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "umbrella")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	y := "apiVersion: v2\nname: umbrella\nversion: 0.3.0\ndependencies:\n- name: example-app\n  version: \"~1.4\"\n  repository: oci://" + s.reg.Host + "/charts\n"
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func strategyInputs(c *testcluster.Cluster, ns, strategy, tag string, extra ...string) map[string]string {
	switch strategy {
	case "blue-green":
		return bgInputs(c, ns, tag, extra...)
	case "canary": // judged on pod health: the chart's source is what these tests are about
		return canaryInputs(c, ns, tag, append([]string{"interval", "4s", "prometheus_url", ""}, extra...)...)
	}
	return bgInputs(c, ns, tag, append([]string{"strategy", "rolling"}, extra...)...)
}

func TestChartSources(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	s := startChartServers(t, c)
	for _, strategy := range []string{"rolling", "blue-green", "canary"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			ns := c.NewNamespace(t)
			in := func(tag string, extra ...string) map[string]string {
				return strategyInputs(c, ns, strategy, tag, extra...)
			}
			r := runAction(t, in("1.0.0", s.oci("~1.4")...))
			if r.Exit != 0 {
				t.Fatalf("install from the registry: exit %d\n%s", r.Exit, r.Stdout)
			}
			wantOut(t, r, "chart_version", "1.4.1")
			wantOut(t, r, "chart_digest", s.ociDigest["1.4.1"])
			contains(t, "the summary", r.Summary, s.ociDigest["1.4.1"])
			if strings.Contains(actionrun.Unmasked(r.Stdout)+r.Summary, s.reg.Password) {
				t.Errorf("the registry password shows in the log or summary")
			}
			readyEndpoints(t, c, ns, "web", 2)
			sampler := c.SampleEndpoints(ns, "web")

			r = runAction(t, in("2.0.0", "chart", "example-app", "chart_repository", s.repo.URL, "chart_version", "2.0.0",
				"registry_username", s.repo.User, "registry_password", s.repo.Password, "registry_ca", s.ca))
			if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
				t.Fatalf("upgrade from the repository: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
			}
			wantOut(t, r, "chart_version", "2.0.0")
			wantOut(t, r, "chart_digest", s.repoDig)

			umbrella := s.umbrella(t)
			r = runAction(t, in("2.1.0", "chart", umbrella, "image_tag_key", "example-app.image.tag", "set", "example-app.replicaCount=2",
				"registry_username", s.reg.User, "registry_password", s.reg.Password, "registry_ca", s.ca))
			if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
				t.Fatalf("a local chart with its dependency from the registry: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
			}
			contains(t, "the log", r.Stdout, "built its dependencies: example-app ~1.4 (missing)")
			if _, err := os.Stat(filepath.Join(umbrella, "charts", "example-app-1.4.1.tgz")); err != nil {
				t.Errorf("the dependency was not built into charts/: %v", err)
			}

			refusals(t, c, ns, s, in)
			atLeast(t, strategy+": registry, repository, dependencies and four refusals", sampler.Stop(), 2)
			history(t, c, ns, s)
		})
	}
}

// refusals: bad sources fail in pre-flight, each naming its input, with nothing written.
func refusals(t *testing.T, c *testcluster.Cluster, ns string, s *chartServers, in func(string, ...string) map[string]string) {
	t.Helper()
	before := clusterState(t, c, ns)
	for _, tc := range []struct {
		name  string
		extra []string
		want  []string
	}{
		{"a wrong password", append(s.oci("~1.4"), "registry_password", "not-the-password-42"), []string{"registry_password", "401", s.reg.Host}},
		{"a digest that differs", append(s.oci("1.4.0"), "chart_digest", s.ociDigest["1.4.1"]), []string{"chart_digest", s.ociDigest["1.4.0"], "refused"}},
		{"a version that does not exist", s.oci("~3.1"), []string{"chart_version", "no version ~3.1", "1.5.0, 1.4.1, 1.4.0"}},
		{"a registry that is down", []string{"chart", "oci://" + s.down.Host + "/charts/example-app", "chart_version", "1.4.1",
			"registry_username", s.down.User, "registry_password", s.down.Password, "registry_ca", s.ca}, []string{"chart:", s.down.Host, "unreachable after 4 tries"}},
	} {
		r := runAction(t, in("9.9.9", tc.extra...))
		if r.Exit == 0 || r.Outputs["status"] != "failed" {
			t.Errorf("%s: exit %d, status %q, want a failure", tc.name, r.Exit, r.Outputs["status"])
		}
		for _, w := range tc.want {
			contains(t, tc.name+": the error", r.Stdout, w)
		}
		contains(t, tc.name+": the error", r.Stdout, "nothing was changed")
		if strings.Contains(actionrun.Unmasked(r.Stdout)+r.Summary, "not-the-password-42") {
			t.Errorf("%s: the password shows in the log or summary", tc.name)
		}
	}
	if after := clusterState(t, c, ns); after != before {
		t.Errorf("the refused runs changed the namespace:\nbefore %s\nafter  %s", before, after)
	}
}

// clusterState is what a run would write in ns: Helm's release records, Deployments and
// Leases (the release's lock), each with its resourceVersion.
func clusterState(t *testing.T, c *testcluster.Cluster, ns string) string {
	t.Helper()
	leases, err := c.Client.CoordinationV1().Leases(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{workloadState(t, c, ns)}
	for _, x := range leases.Items {
		out = append(out, "lease/"+x.Name+"@"+x.ResourceVersion)
	}
	return strings.Join(out, " ")
}

// workloadState is Helm's release records and the Deployments in ns, each with its version.
func workloadState(t *testing.T, c *testcluster.Cluster, ns string) string {
	t.Helper()
	ctx := context.Background()
	var out []string
	secrets, err := c.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range secrets.Items {
		out = append(out, "secret/"+x.Name+"@"+x.ResourceVersion)
	}
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range deps.Items {
		out = append(out, fmt.Sprintf("deployment/%s@%d", x.Name, x.Generation))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// history: mode history names each revision's chart source and digest.
func history(t *testing.T, c *testcluster.Cluster, ns string, s *chartServers) {
	t.Helper()
	r := runAction(t, map[string]string{"mode": "history", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig)})
	var revs []struct {
		Chart       string `json:"chart"`
		ChartSource string `json:"chart_source"`
		ChartDigest string `json:"chart_digest"`
	}
	if err := json.Unmarshal([]byte(r.Outputs["revisions"]), &revs); err != nil || len(revs) < 3 {
		t.Fatalf("history: %v, %d revisions\n%s", err, len(revs), r.Outputs["revisions"])
	}
	var got []string
	for _, rv := range revs {
		got = append(got, rv.Chart+" "+rv.ChartSource+" "+rv.ChartDigest)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"example-app-1.4.1 oci://" + s.reg.Host + "/charts/example-app:1.4.1 " + s.ociDigest["1.4.1"],
		"example-app-2.0.0 " + s.repo.URL + " example-app 2.0.0 " + s.repoDig, "umbrella-0.3.0 "} {
		contains(t, "the history", all, want)
	}
	contains(t, "the history's summary", r.Summary, "from `oci://"+s.reg.Host)
}

// A chart with dependencies, from the registry, through the canary's gate: Helm keeps a
// release's chart without its subcharts, so mode promote (a later run, with no chart input)
// finds the chart again at the source and digest the deploy recorded; without the registry's
// credentials it refuses before writing anything, and the canary keeps serving.
func TestCanaryPromotesAChartWithDependencies(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	s := startChartServers(t, c)
	umbrella := s.umbrella(t)
	if r := runAction(t, canaryInputs(c, c.NewNamespace(t), "1.0.0", "chart", umbrella, "image_tag_key", "example-app.image.tag",
		"set", "example-app.replicaCount=2", "registry_username", s.reg.User, "registry_password", s.reg.Password, "registry_ca", s.ca)); r.Exit != 0 {
		t.Fatalf("building the umbrella's dependencies: exit %d\n%s", r.Exit, r.Stdout)
	}
	digest := s.reg.Push(t, umbrella, "charts", "0.3.0") // with charts/ built, as `helm package` after `helm dependency build`
	ns := c.NewNamespace(t)
	oci := func(tag string, extra ...string) map[string]string {
		return canaryInputs(c, ns, tag, append([]string{"chart", "oci://" + s.reg.Host + "/charts/umbrella", "chart_version", "0.3.0",
			"image_tag_key", "example-app.image.tag", "set", "example-app.replicaCount=2",
			"registry_username", s.reg.User, "registry_password", s.reg.Password, "registry_ca", s.ca}, extra...)...)
	}
	if r := runAction(t, oci("1.0.0")); r.Exit != 0 {
		t.Fatalf("install: exit %d\n%s", r.Exit, r.Stdout)
	}
	tracksRouteTo(t, c, ns, "stable@1.0.0")
	readyEndpoints(t, c, ns, "web", 2) // the run returns once the pods are Ready; the slices follow
	sampler := c.SampleEndpoints(ns, "web")
	r := runAction(t, oci("2.0.0", "auto_promote", "false"))
	wantOut(t, r, "status", "awaiting-promotion")
	wantOut(t, r, "chart_digest", digest)

	promote := func(extra ...string) map[string]string {
		in := map[string]string{"mode": "promote", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig),
			"interval": "8s", "prometheus_url": c.PrometheusURL, "registry_ca": s.ca}
		for i := 0; i+1 < len(extra); i += 2 {
			in[extra[i]] = extra[i+1]
		}
		return in
	}
	before := workloadState(t, c, ns)
	r = runAction(t, promote())
	if r.Exit == 0 {
		t.Fatalf("promote without the registry's credentials succeeded\n%s", r.Stdout)
	}
	contains(t, "the refusal", r.Stdout, "registry_password")
	if after := workloadState(t, c, ns); after != before {
		t.Errorf("the refused promote wrote:\nbefore %s\nafter  %s", before, after)
	}
	tracksRouteTo(t, c, ns, "canary@2.0.0,stable@1.0.0")

	r = runAction(t, promote("registry_username", s.reg.User, "registry_password", s.reg.Password))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("promote: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	contains(t, "the log", r.Stdout, "found again at oci://"+s.reg.Host+"/charts/umbrella:0.3.0, with its dependencies")
	if tag := image(t, c, ns, "web"); tag != "2.0.0" {
		t.Errorf("web runs %s after the promotion, want 2.0.0", tag)
	}
	tracksRouteTo(t, c, ns, "stable@2.0.0")
	atLeast(t, "a chart with dependencies promoted by a later run", sampler.Stop(), 2)
}
