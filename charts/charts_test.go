package charts

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/shepherd-deploy/shepherd/config"
)

func TestOCIRef(t *testing.T) {
	for _, tc := range []struct{ in, repo, host, tag, err string }{
		{in: "oci://ghcr.io/acme/charts/web", repo: "ghcr.io/acme/charts/web", host: "ghcr.io"},
		{in: "oci://127.0.0.1:5000/charts/web:1.4.2", repo: "127.0.0.1:5000/charts/web", host: "127.0.0.1:5000", tag: "1.4.2"},
		{in: "oci://localhost:5000/web", repo: "localhost:5000/web", host: "localhost:5000"},
		{in: "oci://ghcr.io", err: "not an OCI chart reference"},
		{in: "oci://ghcr.io/acme/", err: "not an OCI chart reference"},
		{in: "oci://ghcr.io/acme/web@sha256:abc", err: "chart_digest"},
	} {
		repo, host, tag, err := ociRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || repo != tc.repo || host != tc.host || tag != tc.tag {
			t.Errorf("%s: %q %q %q %v", tc.in, repo, host, tag, err)
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		chart, repo string
		want        Kind
	}{{"oci://r/x/y", "", OCI}, {"web", "https://c", Repository}, {"./web", "https://c", Local}, {"web.tgz", "https://c", Local},
		{"web", "", Local}, {".", "https://c", Local}} {
		if got := KindOf(tc.chart, tc.repo); got != tc.want {
			t.Errorf("KindOf(%q, %q) = %s, want %s", tc.chart, tc.repo, got, tc.want)
		}
	}
}

func sub(name, version string) *chart.Chart {
	return &chart.Chart{Metadata: &chart.Metadata{Name: name, Version: version, APIVersion: "v2"}}
}

func TestStaleDependencies(t *testing.T) {
	dep := func(name, version string) *chart.Dependency { return &chart.Dependency{Name: name, Version: version} }
	for _, tc := range []struct {
		name string
		deps []*chart.Dependency
		lock []*chart.Dependency
		have []*chart.Chart
		want string
	}{
		{name: "none declared", want: ""},
		{name: "all there, in range", deps: []*chart.Dependency{dep("a", "~1.4")}, have: []*chart.Chart{sub("a", "1.4.3")}, want: ""},
		{name: "missing", deps: []*chart.Dependency{dep("a", "~1.4")}, want: "a ~1.4 (missing)"},
		{name: "out of range", deps: []*chart.Dependency{dep("a", "~1.4")}, have: []*chart.Chart{sub("a", "1.3.0")}, want: "a ~1.4 (charts/ has 1.3.0)"},
		{name: "in range but not the locked version", deps: []*chart.Dependency{dep("a", "~1.4")}, lock: []*chart.Dependency{dep("a", "1.4.2")},
			have: []*chart.Chart{sub("a", "1.4.3")}, want: "a 1.4.2 (charts/ has 1.4.3)"},
		{name: "twice under aliases, one gone", deps: []*chart.Dependency{dep("a", "~1.4"), dep("a", "2.0.0")},
			lock: []*chart.Dependency{dep("a", "1.4.2"), dep("a", "2.0.0")}, have: []*chart.Chart{sub("a", "1.4.2")}, want: "a 2.0.0 (charts/ has 1.4.2)"},
		{name: "twice under aliases, both there", deps: []*chart.Dependency{dep("a", "~1.4"), dep("a", "2.0.0")},
			have: []*chart.Chart{sub("a", "2.0.0"), sub("a", "1.4.2")}, want: ""},
	} {
		ch := sub("top", "1.0.0")
		ch.Metadata.Dependencies = tc.deps
		if tc.lock != nil {
			ch.Lock = &chart.Lock{Dependencies: tc.lock}
		}
		ch.SetDependencies(tc.have...)
		if got := strings.Join(staleDependencies(ch), "; "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("failed to fetch https://c/index.yaml : 503 Service Unavailable"), 503},
		{errors.New("looks like \"https://c\" is not a valid chart repository or cannot be reached: failed to fetch https://c/index.yaml : 401 Unauthorized"), 401},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), 0},
	} {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	if got := config.RedactURLs("https://u:p4ss@charts.example.com/x"); strings.Contains(got, "p4ss") || got != "https://charts.example.com/x" {
		t.Errorf("RedactURLs = %q", got)
	}
}
