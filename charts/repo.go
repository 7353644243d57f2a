package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/shepherd-deploy/shepherd/config"
)

// repoEntry is the repository as Helm's repo package takes it (no `helm repo add` state): its
// credentials go to its own host only (PassCredentialsAll false, as Helm's default), never to
// an archive URL of index.yaml's on another host.
func (w *work) repoEntry() *repo.Entry {
	return &repo.Entry{Name: "shepherd", URL: strings.TrimSuffix(w.s.Repository, "/"), Username: w.s.Username, Password: w.s.Password}
}

// repository reads the repository's index.yaml, picks the version and downloads its archive,
// checking it against the digest the index gives.
func (w *work) repository(_ context.Context) (*Resolved, error) {
	where := config.RedactURLs(w.s.Repository)
	cr, err := repo.NewChartRepository(w.repoEntry(), w.net.getters)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %v", config.InChartRepo, where, err)
	}
	cr.CachePath = w.dir
	path, err := cr.DownloadIndexFile()
	if err != nil {
		if statusOf(err) == 404 {
			return nil, fmt.Errorf("%s: %s has no index.yaml (404): is it a Helm repository?", config.InChartRepo, where)
		}
		return nil, w.net.explain(config.InChartRepo, where, err)
	}
	idx, err := repo.LoadIndexFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %s/index.yaml does not load: %v", config.InChartRepo, where, err)
	}
	cv, err := idx.Get(w.s.Chart, w.s.Version)
	switch {
	case errors.Is(err, repo.ErrNoChartName):
		return nil, fmt.Errorf("%s: %s has no chart %q (it has: %s)", config.InChart, where, w.s.Chart, newest(names(idx), 10))
	case err != nil:
		return nil, fmt.Errorf("%s: %s has no version %s of %s (newest: %s)", config.InChartVersion, where, w.s.Version, w.s.Chart, newest(versions(idx, w.s.Chart), 5))
	case len(cv.URLs) == 0:
		return nil, fmt.Errorf("%s: %s lists %s %s without a download URL", config.InChartRepo, where, w.s.Chart, cv.Version)
	}
	u, err := repo.ResolveReferenceURL(cr.Config.URL, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %s's URL for %s %s: %v", config.InChartRepo, where, w.s.Chart, cv.Version, err)
	}
	data, err := w.download(u)
	if err != nil {
		return nil, err
	}
	digest := digestOf(data)
	if cv.Digest != "" && "sha256:"+strings.TrimPrefix(cv.Digest, "sha256:") != digest {
		return nil, fmt.Errorf("%s: %s %s downloaded as %s, but the repository's index.yaml says sha256:%s: refused", config.InChartRepo, w.s.Chart, cv.Version, digest, cv.Digest)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s from %s does not load as a Helm chart: %v", config.InChart, w.s.Chart, cv.Version, where, err)
	}
	return &Resolved{Chart: ch, Kind: Repository, Ref: where + " " + w.s.Chart + " " + cv.Version, Version: ch.Metadata.Version, Digest: digest}, nil
}

// download gets one chart archive with the repository's credentials (sent only to the
// repository's own host, as Helm does).
func (w *work) download(u string) ([]byte, error) {
	g, err := w.net.getters.ByScheme(schemeOf(u))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot download %s: %v", config.InChartRepo, config.RedactURLs(u), err)
	}
	e := w.repoEntry()
	buf, err := g.Get(u, getter.WithURL(e.URL), getter.WithBasicAuth(e.Username, e.Password))
	if err != nil {
		return nil, w.net.explain(config.InChartRepo, config.RedactURLs(u), err)
	}
	return buf.Bytes(), nil
}

func schemeOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Scheme
}

// names lists the index's charts.
func names(idx *repo.IndexFile) []string {
	var out []string
	for n := range idx.Entries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// versions lists a chart's versions in the index, newest first.
func versions(idx *repo.IndexFile, name string) []string {
	var out []string
	for _, v := range idx.Entries[name] {
		out = append(out, v.Version)
	}
	return out
}
