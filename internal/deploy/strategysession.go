package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// session is the engine's strategy.Session: the run, as a strategy's cluster half reaches it.
type session struct {
	r  *run
	pf *preflight // nil outside a deploy
}

var _ strategy.Session = session{}

func (s session) Apply(ctx context.Context, a strategy.Apply) (*helmrelease.Release, strategy.Revision, error) {
	ch, vals := a.Chart, a.Values
	var before int
	switch {
	case ch != nil:
		before = s.r.latest()
	case s.pf == nil:
		return nil, strategy.Revision{}, errors.New("no chart to apply outside a deploy")
	default:
		ch, vals, before = s.pf.chart, s.pf.values, s.pf.current
	}
	return (&cluster{r: s.r}).apply(ctx, ch, vals, before, release.UpgradeOptions{Description: a.Description, Labels: a.Labels, PostRender: a.PostRender})
}

func (s session) History() ([]*helmrelease.Release, error) {
	return s.r.d.Helm.History(s.r.cfg.Release)
}

func (s session) Mark(rev int, status helmrelease.Status, why string) error {
	if status == helmrelease.StatusFailed {
		return s.r.d.Helm.MarkFailed(s.r.cfg.Release, rev, why)
	}
	return s.r.d.Helm.SetStatus(s.r.cfg.Release, rev, status, why)
}

func (s session) ChartOf(ctx context.Context, rel *helmrelease.Release) (*chart.Chart, error) {
	return s.r.chartOf(ctx, rel)
}

func (s session) Scale(ctx context.Context, name string, replicas int) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	_, err := s.r.d.Clients.Typed.AppsV1().Deployments(s.r.cfg.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	switch {
	case replicas == 0 && apierrors.IsNotFound(err): // never created (refused by a quota or a webhook): nothing runs
		return nil
	case err != nil:
		return fmt.Errorf("scale %s to %d: %w", name, replicas, kube.Explain(err))
	}
	return nil
}

func (s session) Watch(ctx context.Context, w release.Workloads, since time.Time) (health.Result, error) {
	return (&cluster{r: s.r}).Watch(ctx, w, since)
}

func (s session) Steady(ctx context.Context, deployments []string, d time.Duration) (*diagnose.Signal, error) {
	return s.r.steadyPods(ctx, deployments, d)
}

func (s session) Record(ctx context.Context, phase kube.Phase, rev int, notes map[string]string) error {
	return s.r.state(ctx, phase, rev, notes)
}

func (s session) RecordIf(ctx context.Context, phase kube.Phase, rev int, notes map[string]string, check func(map[string]string) error) error {
	if s.r.lock == nil {
		return nil
	}
	return s.r.lock.SetStateIf(ctx, phase, rev, notes, check)
}

func (s session) Smoke(ctx context.Context, deployments []string, via *strategy.SmokeVia) *diagnose.Signal {
	return s.r.smoke(ctx, deployments, via)
}

func (s session) Recorded() string {
	if s.r.lock == nil {
		return ""
	}
	return s.r.lock.Recorded()
}

func (s session) Unfinished() { s.r.unfinished = true }

func (s session) Emit(ctx context.Context, e outcome.Event) {
	e.At = s.r.d.Clock.Since(s.r.start)
	s.r.emit(ctx, e)
}

func (s session) Diagnose(ctx context.Context, res *health.Result, check string, reason diagnose.Category, why string) (diagnose.Category, string) {
	return s.r.diagnose(ctx, res, check, reason, why)
}

func (s session) Outcome() *outcome.Outcome { return &s.r.out }

func (s session) Kube() strategy.Kube {
	return strategy.Kube{Typed: s.r.d.Clients.Typed, Namespace: s.r.cfg.Namespace, Dynamic: s.r.dynamic}
}

func (s session) Clock() clock.WithTicker { return s.r.d.Clock }

// steadyPods runs the watcher's steady window on the pods of each Deployment named.
func (r *run) steadyPods(ctx context.Context, deployments []string, d time.Duration) (*diagnose.Signal, error) {
	var (
		mu    sync.Mutex
		first *diagnose.Signal
		ferr  error
		wg    sync.WaitGroup
	)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, name := range deployments {
		dep, err := r.d.Clients.Typed.AppsV1().Deployments(r.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, kube.Explain(err)
		}
		sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := r.watcher().Steady(sctx, r.cfg.Namespace, sel, d)
			mu.Lock()
			defer mu.Unlock()
			if s != nil && first == nil {
				first = s
				cancel()
			}
			if err != nil && ferr == nil && first == nil {
				ferr = err
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, ferr
}

// dynamic is a dynamic client with the run's credentials.
func (r *run) dynamic() (dynamic.Interface, error) {
	if r.d.Dynamic != nil {
		return r.d.Dynamic, nil
	}
	return dynamic.NewForConfig(r.d.Clients.Config)
}
