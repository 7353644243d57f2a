package strategy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
)

// Session is what a strategy's cluster half may do to the world, as the engine provides it:
// Helm revisions applied and marked, Deployments scaled and watched with the run's fail-fast
// watcher, state recorded on the release's Lease, events in the run's report, a failure's
// diagnosis. The Kubernetes API is reachable for what is the strategy's own business (its
// Services, routes, autoscalers), through clients a unit test fakes (client-go's fakes) —
// as Helm's pkg/action takes a fakeable Configuration. Every call takes ctx first; nothing
// here prints or exits.
type Session interface {
	// Apply is a Helm upgrade of the release (no Helm wait); the revision it wrote becomes the
	// run's. On an error, Revision.Number is the revision Helm wrote anyway (0: none).
	Apply(ctx context.Context, a Apply) (*helmrelease.Release, Revision, error)
	// History is the release's Helm history, oldest first.
	History() ([]*helmrelease.Release, error)
	// Mark sets revision rev's status in Helm's history, with why as its description.
	Mark(rev int, status helmrelease.Status, why string) error
	// ChartOf is the chart that renders revision rel's version again, with its dependencies.
	ChartOf(ctx context.Context, rel *helmrelease.Release) (*chart.Chart, error)
	// Scale sets Deployment name's replicas (a Deployment never created counts as at 0).
	Scale(ctx context.Context, name string, replicas int) error
	// Watch follows the workloads' rollout, bounded by the run's timeout, until it completes
	// or a failure signal shows. Events older than since are history, not evidence.
	Watch(ctx context.Context, w release.Workloads, since time.Time) (health.Result, error)
	// Steady watches the Deployments' pods, live, for d: a signal when one restarts or goes
	// unready; err when ctx ended or the watch failed.
	Steady(ctx context.Context, deployments []string, d time.Duration) (*diagnose.Signal, error)
	// Smoke runs the smoke tests on the pods of the Deployments (taking no traffic yet):
	// through via's gateway when a route previews them (nil: preview_url, or a port-forward).
	// A failure is the signal (Reason SmokeReason).
	Smoke(ctx context.Context, deployments []string, via *SmokeVia) *diagnose.Signal
	// Record writes the phase and the strategy's notes on the release's Lease. It fails
	// closed: a step the next run could not finish does not start when this errs.
	Record(ctx context.Context, phase kube.Phase, rev int, notes map[string]string) error
	// RecordIf is Record, unless check, given the Lease's notes as they are, refuses: its
	// error is then RecordIf's (one write decides between two runs that both write the Lease).
	// Without a lock (a run that holds none), nothing is recorded.
	RecordIf(ctx context.Context, phase kube.Phase, rev int, notes map[string]string, check func(notes map[string]string) error) error
	// Recorded is the phase last recorded.
	Recorded() string
	// Unfinished says the run stops with work left: the Lease keeps its phase for the next run.
	Unfinished()
	// Emit adds e to the run's timeline and tells the user (its At is set by the session).
	Emit(ctx context.Context, e outcome.Event)
	// Diagnose gathers the evidence of a failed check (res may be nil) and says why.
	Diagnose(ctx context.Context, res *health.Result, check string, reason diagnose.Category, why string) (diagnose.Category, string)
	// Outcome is the run's outcome, of which the strategy writes its own part.
	Outcome() *outcome.Outcome
	// Kube is the cluster's API, with the run's credentials, in the release's namespace.
	Kube() Kube
	// Clock is the run's clock.
	Clock() clock.WithTicker
}

// Apply is a Helm upgrade a strategy asks for.
type Apply struct {
	// Chart and Values to render (nil Chart: the run's own chart and values).
	Chart  *chart.Chart
	Values map[string]any
	// Description goes to Helm's history; Labels on the revision.
	Description string
	Labels      map[string]string
	// PostRender rewrites the rendered manifest (nil: as rendered).
	PostRender func(string) (string, error)
}

// Kube is the cluster's API as a strategy reaches it.
type Kube struct {
	Typed kubernetes.Interface
	// Dynamic is for resources without typed clients (the Gateway API's).
	Dynamic func() (dynamic.Interface, error)
	// Namespace is the release's.
	Namespace string
}

// LiveCounts is each named Deployment's live spec.replicas (absent: not there yet).
func LiveCounts(ctx context.Context, k Kube, names []string) (map[string]int, error) {
	out := map[string]int{}
	for _, name := range names {
		d, err := k.Typed.AppsV1().Deployments(k.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("read Deployment %s: %w", name, kube.Explain(err))
		case d.Spec.Replicas != nil:
			out[name] = int(*d.Spec.Replicas)
		}
	}
	return out, nil
}

// SmokeReason is the Reason of a failed smoke test's signal.
const SmokeReason = "SmokeTestFailed"

// SmokeVia is where the smoke tests ask when a route previews the pods: the gateway's address
// (Base, "" when it publishes none; Where names it), and the headers that reach the preview.
type SmokeVia struct {
	Base, Where string
	Header      http.Header
}

// MarkFailedIfLive marks revision rev of hist failed with desc, unless it already is.
func MarkFailedIfLive(s Session, rev int, hist []*helmrelease.Release, desc string) {
	for _, h := range hist {
		if h.Version == rev && h.Info.Status != helmrelease.StatusFailed {
			// Best effort: the history's status is a label for humans, not what serves.
			_ = s.Mark(rev, helmrelease.StatusFailed, desc)
		}
	}
}
