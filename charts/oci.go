package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/errdef"

	"github.com/shepherd-deploy/shepherd/config"
)

// ociRef splits oci://HOST/PATH/NAME[:TAG] into the repository (HOST/PATH/NAME), its host and
// the tag, if any.
func ociRef(chartRef string) (repo, host, tag string, err error) {
	raw := strings.TrimPrefix(chartRef, "oci://")
	if strings.Contains(raw, "@") {
		return "", "", "", fmt.Errorf("%s: %q: pin a digest with %s, not in the reference", config.InChart, chartRef, config.InChartDigest)
	}
	if i := strings.LastIndex(raw, ":"); i > strings.LastIndex(raw, "/") {
		raw, tag = raw[:i], raw[i+1:]
	}
	host, _, ok := strings.Cut(raw, "/")
	if !ok || host == "" || strings.HasSuffix(raw, "/") {
		return "", "", "", fmt.Errorf("%s: %q is not an OCI chart reference (oci://REGISTRY/PATH/NAME, e.g. oci://ghcr.io/acme/charts/web)", config.InChart, chartRef)
	}
	return raw, host, tag, nil
}

// oci pulls the chart from its registry: an exact version straight away, a range through
// the repository's tags.
func (w *work) oci(_ context.Context) (*Resolved, error) {
	repo, host, tag, err := ociRef(w.s.Chart)
	if err != nil {
		return nil, err
	}
	want := w.s.Version
	if tag != "" {
		if want != "" && want != tag {
			return nil, fmt.Errorf("%s: %q names version %s, %s says %s: give one", config.InChart, w.s.Chart, tag, config.InChartVersion, want)
		}
		want = tag
	}
	version := want
	if _, err := semver.StrictNewVersion(want); err != nil { // a range, or the newest
		tags, err := w.tags(repo, host)
		if err != nil {
			return nil, err
		}
		if version, err = registry.GetTagMatchingVersionOrConstraint(stable(tags, want), want); err != nil {
			return nil, w.noVersion(repo, want, tags)
		}
	}
	res, err := w.net.registry.Pull(repo+":"+version, registry.PullOptWithChart(true))
	switch {
	case notFound(err):
		tags, terr := w.tags(repo, host)
		if terr != nil {
			return nil, terr
		}
		return nil, w.noVersion(repo, want, tags)
	case err != nil:
		return nil, w.net.explain(config.InChart, host, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
	if err != nil {
		return nil, fmt.Errorf("%s: oci://%s:%s does not load as a Helm chart: %v", config.InChart, repo, version, err)
	}
	w.extra = res.Chart.Digest
	return &Resolved{Chart: ch, Kind: OCI, Ref: "oci://" + repo + ":" + version, Version: ch.Metadata.Version, Digest: res.Manifest.Digest}, nil
}

// tags lists the repository's semver tags, newest first.
func (w *work) tags(repo, host string) ([]string, error) {
	tags, err := w.net.registry.Tags(repo)
	switch {
	case notFound(err):
		return nil, fmt.Errorf("%s: oci://%s: no such chart in the registry %s", config.InChart, repo, host)
	case err != nil:
		return nil, w.net.explain(config.InChart, host, err)
	}
	return tags, nil
}

// stable leaves pre-releases out when no version or a range without one is asked for, as
// Helm does for repositories.
func stable(tags []string, want string) []string {
	if strings.Contains(want, "-") {
		return tags
	}
	var out []string
	for _, t := range tags {
		if v, err := semver.NewVersion(t); err == nil && v.Prerelease() == "" {
			out = append(out, t)
		}
	}
	return out
}

// noVersion says that no version matches, naming the newest that do exist.
func (w *work) noVersion(repo, want string, tags []string) error {
	if want == "" {
		return fmt.Errorf("%s: oci://%s has no released version (its versions: %s)", config.InChart, repo, newest(tags, 5))
	}
	return fmt.Errorf("%s: oci://%s has no version %s (newest: %s)", config.InChartVersion, repo, want, newest(tags, 5))
}

// notFound reports a registry's 404 (no such manifest or repository).
func notFound(err error) bool {
	return err != nil && (errors.Is(err, errdef.ErrNotFound) || statusOf(err) == http.StatusNotFound)
}
