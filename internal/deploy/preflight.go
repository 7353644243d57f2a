package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/analysis"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/words"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// preflightError is a pre-flight failure that has a failure category (e.g. a missing Secret).
type preflightError struct {
	reason diagnose.Category
	err    error
}

func (e *preflightError) Error() string { return e.err.Error() }
func (e *preflightError) Unwrap() error { return e.err }

// preflight is what is known before anything is written.
type preflight struct {
	chart   *chart.Chart
	values  map[string]any
	current int    // latest revision, 0 when the release does not exist
	diff    string // rendered manifest vs the live release
	// plan is what the strategy's pre-flight found (nil: a rolling deploy).
	plan strategyPlan
	// ownRollout: the Deployments keep_capacity leaves to their chart's rollout, and why.
	ownRollout map[string]string
	// refused is keep_capacity's refusal of a Deployment that could never roll.
	refused error
}

// preflight checks, before any write: the cluster answers, the namespace exists, the chart
// loads, the values merge, the chart renders, and the Secrets and ConfigMaps the rendered
// workloads reference exist.
func (r *run) preflight(ctx context.Context) (*preflight, error) {
	cfg := r.cfg
	if r.lock == nil { // a locked run checked it before taking the lock
		if err := r.reachable(ctx); err != nil {
			return nil, err
		}
	}
	if r.lock == nil { // a locked run checked it before taking the lock
		if err := r.namespaceExists(ctx); err != nil {
			return nil, err
		}
	}
	ch := r.d.Chart.Chart
	vals, err := release.Values(cfg.ValuesFiles, cfg.Set, cfg.ImageTagKey, cfg.ImageTag)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %v", config.InValues, config.InSet, err)
	}
	hist, err := r.d.Helm.History(cfg.Release)
	if err != nil {
		return nil, err
	}
	pf := &preflight{chart: ch, values: vals}
	live := ""
	if len(hist) > 0 {
		last := hist[len(hist)-1]
		pf.current, live = last.Version, last.Manifest
	}
	opts, err := r.planStrategy(ctx, pf, live, len(hist) > 0)
	if err != nil {
		return nil, err
	}
	rendered, err := r.d.Helm.Upgrade(ctx, cfg.Release, ch, vals, opts)
	switch {
	case pf.refused != nil:
		return nil, pf.refused
	case err != nil:
		return nil, fmt.Errorf("%s: the chart does not render: %v", config.InChart, err)
	}
	return r.preflightRendered(ctx, pf, live, rendered.Manifest)
}

// preflightRendered checks the rendered manifest (its references, blue-green's layout) and
// diffs it against the live release.
func (r *run) preflightRendered(ctx context.Context, pf *preflight, live, manifest string) (*preflight, error) {
	cfg := r.cfg
	if pf.plan != nil {
		if err := pf.plan.check(ctx, manifest); err != nil {
			return nil, err
		}
	}
	if err := r.checkReferences(ctx, manifest); err != nil {
		return nil, err
	}
	var err error
	if pf.diff, err = release.Diff(live, manifest); err != nil {
		return nil, err
	}
	r.event(ctx, "pre-flight", Info, "cluster, namespace %s, chart %s and its references OK (current revision: %s)", cfg.Namespace, pf.chart.Metadata.Name, words.RevName(pf.current))
	return pf, nil
}

// namespaceExists fails, naming the namespace, when it does not exist. A namespaced Role may
// not read namespaces: forbidden counts as there.
func (r *run) namespaceExists(ctx context.Context) error {
	_, err := r.d.Clients.Typed.CoreV1().Namespaces().Get(ctx, r.cfg.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: namespace %q does not exist", config.InNamespace, r.cfg.Namespace)
	case err != nil && !apierrors.IsForbidden(err):
		return fmt.Errorf("reading namespace %q: %v", r.cfg.Namespace, err)
	}
	return nil
}

// checkReferences fails when a Secret or ConfigMap (or a key in one) that the rendered
// workloads need is missing: the pods would fail with CreateContainerConfigError.
func (r *run) checkReferences(ctx context.Context, manifest string) error {
	refs, err := release.References(manifest)
	if err != nil {
		return err
	}
	var missing []string
	for _, ref := range refs {
		if ref.Optional {
			continue
		}
		ns := ref.Namespace
		if ns == "" {
			ns = r.cfg.Namespace
		}
		var keys map[string]bool
		switch ref.Kind {
		case "Secret":
			s, err := r.d.Clients.Typed.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				missing = append(missing, describeMissing(ref, err))
				continue
			}
			keys = map[string]bool{}
			for k := range s.Data {
				keys[k] = true
			}
			for k := range s.StringData {
				keys[k] = true
			}
		case "ConfigMap":
			cm, err := r.d.Clients.Typed.CoreV1().ConfigMaps(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				missing = append(missing, describeMissing(ref, err))
				continue
			}
			keys = map[string]bool{}
			for k := range cm.Data {
				keys[k] = true
			}
			for k := range cm.BinaryData {
				keys[k] = true
			}
		}
		if ref.Key != "" && !keys[ref.Key] {
			missing = append(missing, fmt.Sprintf("%s %q has no key %q (needed by %s)", ref.Kind, ref.Name, ref.Key, ref.From))
		}
	}
	if len(missing) > 0 {
		return &preflightError{reason: diagnose.Config, err: errors.New(strings.Join(missing, "; "))}
	}
	return nil
}

func describeMissing(ref release.Ref, err error) string {
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("%s %q does not exist (needed by %s)", ref.Kind, ref.Name, ref.From)
	}
	return fmt.Sprintf("%s %q cannot be read (needed by %s): %v", ref.Kind, ref.Name, ref.From, err)
}

// metricsProvider is the canary's metrics provider (nil: no analysis, pod health only), built
// by the analysis package's factory from the configuration; the engine supplies only the way
// into the cluster (a port-forward through the API server) for a backend inside it.
func (r *run) metricsProvider() (analysis.Provider, error) {
	cfg := r.cfg
	if !cfg.HasPrometheus() {
		return nil, nil
	}
	o := analysis.Options{
		URL:  cfg.PrometheusURL,
		Auth: analysis.Auth{Token: cfg.PrometheusAuth.Token, Headers: cfg.PrometheusAuth.Headers},
		Queries: analysis.Queries{ErrorRate: cfg.ErrorRateQuery, Latency: cfg.LatencyQuery, WithLatency: cfg.LatencyThreshold > 0,
			WithBuckets: cfg.Judge.Baseline == config.BaselineStable},
		Inputs: [3]string{config.InPrometheus, config.InErrorQuery, config.InLatencyQ},
	}
	if svc := cfg.PrometheusService; svc != nil {
		o.Dial, o.Inputs[0] = serviceDialer{r: r, svc: *svc}.dial, config.InPromService
	}
	p, err := analysis.NewProvider(analysis.DefaultProvider, o)
	if err != nil {
		return nil, err
	}
	if c, ok := p.(io.Closer); ok {
		r.closers = append(r.closers, func() { _ = c.Close() })
	}
	return p, nil
}

// planStrategy reads what the strategy needs of the live release (its colours or its tracks)
// and returns the dry run's options (the strategy's post-renderer). A release another
// strategy's manifest holds is refused; a rolling deploy (a canary's first install too) rolls
// with keep_capacity.
func (r *run) planStrategy(ctx context.Context, pf *preflight, live string, exists bool) (release.UpgradeOptions, error) {
	cfg := r.cfg
	opts := release.UpgradeOptions{DryRun: true}
	for _, l := range r.lifecycles() {
		if l.name() == cfg.Strategy {
			continue
		}
		if err := l.refuses(cfg, live); err != nil {
			return opts, err
		}
	}
	rolling := true
	if l := r.lifecycle(); l != nil {
		var err error
		if rolling, err = l.plan(ctx, pf, live, exists, &opts); err != nil {
			return opts, err
		}
	}
	if rolling && cfg.KeepCapacity {
		opts.PostRender = func(m string) (string, error) { // as Upgrade renders it
			if pf.ownRollout, pf.refused = r.planSurge(ctx, m); pf.refused != nil {
				return "", pf.refused
			}
			out, _, err := strategy.KeepCapacity(m, pf.ownRollout)
			return out, err
		}
	}
	return opts, nil
}
