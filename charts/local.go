package charts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/shepherd-deploy/shepherd/config"
)

// local loads a chart directory or .tgz; a directory whose dependencies are missing from
// charts/ or stale there has them built first, as `helm dependency build` would (from
// Chart.lock when there is one), with the same credentials.
func (w *work) local(_ context.Context) (*Resolved, error) {
	path := w.s.Chart
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %q does not exist (a chart directory, a packaged .tgz, oci://REGISTRY/PATH/NAME, or a chart name with %s)", config.InChart, path, config.InChartRepo)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %q does not load as a Helm chart: %v", config.InChart, path, err)
	}
	res := &Resolved{Chart: ch, Kind: Local, Ref: path, Version: ch.Metadata.Version}
	if !fi.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %v", config.InChart, path, err)
		}
		res.Digest = digestOf(data)
	}
	if !satisfies(res.Version, w.s.Version) {
		return nil, fmt.Errorf("%s: the chart at %q is version %s, not %s", config.InChartVersion, path, res.Version, w.s.Version)
	}
	stale := staleDependencies(ch)
	if len(stale) == 0 {
		return res, nil
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: the packaged chart %q lacks its dependencies %s (package it after `helm dependency build`)", config.InChart, path, strings.Join(stale, ", "))
	}
	if err := w.buildDependencies(path); err != nil {
		return nil, err
	}
	if ch, err = loader.Load(path); err != nil {
		return nil, fmt.Errorf("%s: %q does not load after its dependencies were built: %v", config.InChart, path, err)
	}
	if left := staleDependencies(ch); len(left) > 0 {
		return nil, fmt.Errorf("%s: %q still lacks %s after its dependencies were built", config.InChart, path, strings.Join(left, ", "))
	}
	res.Chart, res.Built = ch, stale
	w.s.Log("built the dependencies of %s: %s", path, strings.Join(stale, ", "))
	return res, nil
}

// staleDependencies lists the dependencies Chart.yaml declares that charts/ lacks, or holds at
// a version other than Chart.lock's (or outside Chart.yaml's range when there is no lock),
// as "name version (why)". A chart may depend on one chart twice under aliases: one archive
// serves every alias at its version, as Helm renders them.
func staleDependencies(ch *chart.Chart) []string {
	have := map[string][]string{} // name → versions in charts/
	for _, sub := range ch.Dependencies() {
		have[sub.Name()] = append(have[sub.Name()], sub.Metadata.Version)
	}
	deps := ch.Metadata.Dependencies
	var lock []*chart.Dependency
	if ch.Lock != nil && len(ch.Lock.Dependencies) == len(deps) {
		lock = ch.Lock.Dependencies // in Chart.yaml's order, as Helm writes it
	}
	var out []string
	for i, d := range deps {
		want, exact := d.Version, false
		if lock != nil && lock[i].Name == d.Name {
			want, exact = lock[i].Version, true
		}
		vs := have[d.Name]
		j := slices.IndexFunc(vs, func(v string) bool { return v == want || !exact && satisfies(v, want) })
		switch {
		case j >= 0:
		case len(vs) == 0:
			out = append(out, d.Name+" "+want+" (missing)")
		default:
			out = append(out, d.Name+" "+want+" (charts/ has "+strings.Join(vs, ", ")+")")
		}
	}
	return out
}

// buildDependencies runs Helm's dependency manager on the chart directory, with a repository
// file and cache of its own: the repository (if given) with its credentials, OCI dependencies
// through the same registry client.
func (w *work) buildDependencies(path string) error {
	rf := repo.NewFile()
	https := w.s.Repository != "" && !strings.HasPrefix(w.s.Repository, "oci://") // oci://: the registry the credentials are for
	if https {
		rf.Update(w.repoEntry())
	}
	repoFile := filepath.Join(w.dir, "repositories.yaml")
	if err := rf.WriteFile(repoFile, 0o600); err != nil {
		return fmt.Errorf("charts: %v", err)
	}
	cache := filepath.Join(w.dir, "cache")
	if https { // its index first, here, so that a failure says which input to change
		cr, err := repo.NewChartRepository(w.repoEntry(), w.net.getters)
		if err != nil {
			return fmt.Errorf("%s: %q: %v", config.InChartRepo, config.RedactURLs(w.s.Repository), err)
		}
		cr.CachePath = cache
		if _, err := cr.DownloadIndexFile(); err != nil {
			return fmt.Errorf("%w (building the dependencies of %q, as helm dependency build does)", w.net.explain(config.InChartRepo, config.RedactURLs(w.s.Repository), err), path)
		}
	}
	var out strings.Builder
	m := &downloader.Manager{Out: &out, ChartPath: path, Getters: w.net.getters, RegistryClient: w.net.registry,
		RepositoryConfig: repoFile, RepositoryCache: cache, SkipUpdate: true}
	if err := m.Build(); err != nil {
		return fmt.Errorf("%s: building the dependencies of %q (as helm dependency build): %v", config.InChart, path, w.net.describe(err))
	}
	return nil
}
