package deploy

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
)

// chartOf is the chart to render revision rel's version again (a canary's promotion). Helm
// stores a release's chart without its subcharts (they sit in an unexported field), so the
// stored chart of one that has dependencies would render without them — a library chart's
// helpers missing, a subchart's workloads deleted. Such a chart is this run's own when it is
// the same, or else found again where it came from (the source and digest recorded on it),
// with this run's credentials; failing that, nothing is written.
func (r *run) chartOf(ctx context.Context, rel *helmrelease.Release) (*chart.Chart, error) {
	ch := rel.Chart
	if ch == nil || ch.Metadata == nil || len(ch.Metadata.Dependencies) == 0 {
		return ch, nil
	}
	if r.d.Chart != nil && charts.Same(r.d.Chart.Chart, ch) {
		return r.d.Chart.Chart, nil
	}
	ref := ch.Metadata.Annotations[charts.AnnotationSource]
	if ref == "" {
		return nil, fmt.Errorf("revision %d's chart %s-%s has dependencies, which Helm does not keep with a release, and no record of where it came from: deploy it again", rel.Version, ch.Metadata.Name, ch.Metadata.Version)
	}
	src, err := ChartSource(r.cfg, r.d.Log)
	if err != nil {
		return nil, err
	}
	chartRef, repo, version := charts.SourceOf(ref)
	// The record keeps no credential: the run's own chart_repository (with its user info or
	// query token) when the record names the same one, or, for a local chart, names none.
	if repo == config.RedactURLs(src.Repository) && repo != "" || repo == "" && charts.KindOf(chartRef, "") == charts.Local {
		repo = src.Repository
	}
	src.Chart, src.Repository, src.Version = chartRef, repo, version
	if src.Version == "" && charts.KindOf(src.Chart, "") == charts.Local {
		src.Version = ch.Metadata.Version
	}
	src.Digest = ch.Metadata.Annotations[charts.AnnotationDigest]
	found, err := charts.Resolve(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("revision %d's chart has dependencies, which Helm does not keep with a release; finding it again at %s: %v", rel.Version, ref, err)
	}
	if !charts.Same(found.Chart, ch) {
		return nil, changedSince(rel.Version, ch, ref, found.Chart)
	}
	r.event(ctx, "promote", Info, "revision %d's chart found again at %s, with its dependencies", rel.Version, found.Ref)
	return found.Chart, nil
}

// changedSince is the refusal of a chart found again that is not the one revision rev ran:
// another name or version, or the same one with other content (a local chart edited since),
// each digest named.
func changedSince(rev int, ran *chart.Chart, ref string, now *chart.Chart) error {
	was, is := ran.Metadata.Name+"-"+ran.Metadata.Version, now.Metadata.Name+"-"+now.Metadata.Version
	if was != is {
		return fmt.Errorf("revision %d's chart is %s, but %s now holds %s: nothing was written", rev, was, ref, is)
	}
	wasDigest, isDigest := charts.RecordedContent(ran), charts.RecordedContent(now)
	if d, n := ran.Metadata.Annotations[charts.AnnotationDigest], now.Metadata.Annotations[charts.AnnotationDigest]; d != "" && n != "" && d != n {
		wasDigest, isDigest = d, n
	}
	return fmt.Errorf("revision %d ran chart %s with content %s, but %s now holds %s with content %s: the chart changed since the canary ran, so its promotion would deploy templates the canary never ran; nothing was written (deploy the changed chart as a new canary, or put back the chart the canary ran)",
		rev, was, wasDigest, ref, is, isDigest)
}
