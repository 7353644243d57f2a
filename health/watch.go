package health

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/release"
)

// Target is what one watch follows: the workloads of one namespace (one release, or several
// releases — colours, tracks — at once).
type Target struct {
	Namespace    string
	Deployments  []string
	StatefulSets []string
	DaemonSets   []string
	// Since: events older than this are history, not evidence (a rollback may reuse an old
	// ReplicaSet whose old events are still there).
	Since time.Time
}

// Result is a watch's verdict.
type Result struct {
	Ready bool
	// Signals are the failure evidence, the first the one that decided; empty when Ready.
	Signals []diagnose.Signal
	// Workload is the one that failed, as Kind/name; Selector selects its new pods (for
	// diagnosis).
	Workload string
	Selector labels.Selector
	// Status is the last progress line of every deployment.
	Status string
}

// Watcher follows rollouts through shared informers (watches, not polling) and decides as
// soon as Kubernetes says enough: complete, or one of the failure signals of package diagnose.
type Watcher struct {
	Client  kubernetes.Interface
	Clock   clock.WithTicker // default: the real clock
	Budgets diagnose.Budgets // default: diagnose.DefaultBudgets()
	// Tick re-evaluates the cached state so time budgets (not-ready, unschedulable) expire
	// without an API change; it reads no API. Default 250ms.
	Tick time.Duration
	// Progress, if set, receives each new progress line.
	Progress func(line string)
	// APILossBound is how long the API server may be unreachable before Watch gives up with
	// ErrAPILost (the watches re-establish by themselves within it). Default 60s.
	APILossBound time.Duration
}

// ErrAPILost means the API server stayed unreachable past the watcher's bound.
var ErrAPILost = errors.New("lost contact with the Kubernetes API server")

// TargetFor is the target of a release manifest's workloads in namespace.
func TargetFor(namespace string, w release.Workloads, since time.Time) Target {
	return Target{Namespace: namespace, Deployments: w.Deployments, StatefulSets: w.StatefulSets, DaemonSets: w.DaemonSets, Since: since}
}

// Empty reports whether t names no workload at all.
func (t Target) Empty() bool {
	return len(t.Deployments)+len(t.StatefulSets)+len(t.DaemonSets) == 0
}

// Watch blocks until every workload of t is complete (Ready), a failure signal appears, or
// ctx ends. When ctx ends it returns ctx.Err() with the best evidence at that moment: the
// pods' own signals (budgets waived), else a deadline signal with the last progress.
func (w *Watcher) Watch(ctx context.Context, t Target) (Result, error) {
	clk, budgets, tick, bound := w.settings()
	if t.Empty() {
		return Result{Ready: true}, nil
	}
	sc := w.newScope(ctx, t)
	changed := make(chan struct{}, 1)
	api := &apiState{clk: clk}
	if err := sc.notify(changed, api); err != nil {
		return Result{}, err
	}
	stop := make(chan struct{})
	defer func() { close(stop); sc.shutdown() }()
	if err := sc.start(ctx, stop, t.Namespace); err != nil {
		return Result{}, err
	}
	s := &snapshot{t: t, budgets: budgets, minGen: w.generations(ctx, t)}
	ticker := clk.NewTicker(tick)
	defer ticker.Stop()
	last := ""
	for {
		s.load(sc.l)
		r := s.evaluate(clk.Now(), false)
		if r.Status != last && w.Progress != nil {
			w.Progress(r.Status)
		}
		last = r.Status
		if r.Ready || len(r.Signals) > 0 {
			return r, nil
		}
		select {
		case <-ctx.Done():
			r := s.evaluate(clk.Now(), true)
			if len(r.Signals) == 0 {
				r.Signals = []diagnose.Signal{{Category: diagnose.Deadline, Object: r.Workload,
					Reason: "Timeout", Message: "the rollout did not complete in time: " + r.Status}}
			}
			return r, ctx.Err()
		case <-changed:
		case <-ticker.C():
			if down := api.downFor(ctx, w.Client); down > bound {
				return r, fmt.Errorf("%w for %s (the watches could not re-establish): %v", ErrAPILost, down.Round(time.Second), api.lastErr())
			}
		}
	}
}

// generations reads each target Deployment's and StatefulSet's generation from the API server
// (a read of the latest state, not of a cache); one that cannot be read now counts as 0.
func (w *Watcher) generations(ctx context.Context, t Target) map[string]int64 {
	out := map[string]int64{}
	for _, n := range t.Deployments {
		if d, err := w.Client.AppsV1().Deployments(t.Namespace).Get(ctx, n, metav1.GetOptions{}); err == nil {
			out[KindDeployment+"/"+n] = d.Generation
		}
	}
	for _, n := range t.StatefulSets {
		if st, err := w.Client.AppsV1().StatefulSets(t.Namespace).Get(ctx, n, metav1.GetOptions{}); err == nil {
			out[KindStatefulSet+"/"+n] = st.Generation
		}
	}
	return out
}

// settings are the watcher's clock, budgets, tick and API-loss bound, defaults filled in.
func (w *Watcher) settings() (clk clock.WithTicker, budgets diagnose.Budgets, tick, bound time.Duration) {
	clk, budgets, tick, bound = w.Clock, w.Budgets, w.Tick, w.APILossBound
	if clk == nil {
		clk = clock.RealClock{}
	}
	if budgets == (diagnose.Budgets{}) {
		budgets = diagnose.DefaultBudgets()
	}
	if tick <= 0 {
		tick = 250 * time.Millisecond
	}
	if bound <= 0 {
		bound = 60 * time.Second
	}
	return clk, budgets, tick, bound
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// snapshot is the cached state of one evaluation.
type snapshot struct {
	t       Target
	budgets diagnose.Budgets
	// minGen is each workload's generation ("Kind/name") read from the API server itself when
	// the watch began: an informer's first list may come from the API server's watch cache,
	// older than the write just made (a rollback's), and a cached object older than that is
	// not the rollout being watched.
	minGen map[string]int64
	stale  map[string]bool
	deps   map[string]*appsv1.Deployment
	sts    map[string]*appsv1.StatefulSet
	dss    map[string]*appsv1.DaemonSet
	rss    []*appsv1.ReplicaSet
	pods   []*corev1.Pod
	events []*corev1.Event
}

// listers are the informers' caches a snapshot reads (nil for kinds the target lacks).
type listers struct {
	deps   appslisters.DeploymentLister
	rss    []appslisters.ReplicaSetLister
	sts    appslisters.StatefulSetLister
	dss    appslisters.DaemonSetLister
	pods   []corelisters.PodLister
	events corelisters.EventLister
}

// load reads the informers' caches (no API call).
func (s *snapshot) load(l listers) {
	ns := s.t.Namespace
	s.deps, s.sts, s.dss = map[string]*appsv1.Deployment{}, map[string]*appsv1.StatefulSet{}, map[string]*appsv1.DaemonSet{}
	s.stale = map[string]bool{}
	for _, n := range s.t.Deployments {
		if d, err := l.deps.Deployments(ns).Get(n); err == nil {
			s.deps[n] = d
			s.stale[KindDeployment+"/"+n] = d.Generation < s.minGen[KindDeployment+"/"+n]
		}
	}
	for _, n := range s.t.StatefulSets {
		if d, err := l.sts.StatefulSets(ns).Get(n); err == nil {
			s.sts[n] = d
			s.stale[KindStatefulSet+"/"+n] = d.Generation < s.minGen[KindStatefulSet+"/"+n]
		}
	}
	for _, n := range s.t.DaemonSets {
		if d, err := l.dss.DaemonSets(ns).Get(n); err == nil {
			s.dss[n] = d
		}
	}
	s.rss = listReplicaSets(l.rss, ns)
	s.pods = listPods(l.pods, ns)
	s.events, _ = l.events.Events(ns).List(labels.Everything())
}

// workloads returns every target workload's progress, Deployments, then StatefulSets, then
// DaemonSets, each by name.
func (s *snapshot) workloads() []progress {
	var out []progress
	for _, kind := range []struct {
		names []string
		of    func(string) progress
	}{{s.t.Deployments, s.deployment}, {s.t.StatefulSets, s.statefulSet}, {s.t.DaemonSets, s.daemonSet}} {
		names := append([]string(nil), kind.names...)
		sort.Strings(names)
		for _, n := range names {
			out = append(out, kind.of(n))
		}
	}
	return out
}

// evaluate decides from the snapshot. final waives the time budgets (the deadline has come:
// whatever the pods show is the explanation).
func (s *snapshot) evaluate(now time.Time, final bool) Result {
	var lines []string
	allDone := true
	var res Result
	budgets := s.budgets
	if final {
		budgets = diagnose.Budgets{Unschedulable: time.Nanosecond, NotReady: time.Nanosecond}
	}
	add := func(p progress, sig diagnose.Signal) {
		res.Signals = append(res.Signals, sig)
		if len(res.Signals) == 1 {
			res.Workload, res.Selector = p.object, p.sel
		}
	}
	for _, p := range s.workloads() {
		lines = append(lines, p.line)
		allDone = allDone && p.done
		if !p.found {
			continue
		}
		if res.Workload == "" {
			res.Workload = p.object
		}
		if res.Selector == nil || (res.Workload == p.object && len(res.Signals) == 0) {
			res.Selector = p.sel
		}
		if p.observed && p.sel != nil {
			podNames := map[string]bool{}
			for _, pod := range p.pods {
				podNames[pod.Name] = true
				if sig, bad := diagnose.PodSignal(pod, now, budgets); bad {
					add(p, sig)
				}
			}
			for _, e := range s.events {
				if eventTime(e).Before(s.t.Since) {
					continue
				}
				io := e.InvolvedObject
				if !(io.Kind == "Pod" && podNames[io.Name]) && !(io.Kind == p.ownerKind && io.Name == p.ownerName) {
					continue
				}
				if sig, bad := diagnose.EventSignal(e); bad && !transientCreateFailure(e, p.want, p.have, now, budgets) {
					add(p, sig)
				}
			}
		}
		// The workload's own verdict (deadline, replica failure) comes after what its pods and
		// events show: those say why.
		if p.own != nil && !transientReplicaFailure(p, now, budgets) {
			add(p, *p.own)
		}
	}
	res.Status = strings.Join(lines, "; ")
	res.Ready = allDone && len(res.Signals) == 0
	return res
}

// transientCreateFailure tells a FailedCreate that may yet resolve (the ReplicaSet controller
// retries: a namespace's ServiceAccount appears a moment after it, a quota frees up as old pods
// go) from one that persists: it counts once it is older than the unschedulable budget and the
// ReplicaSet is still short of pods.
func transientCreateFailure(e *corev1.Event, want, have int32, now time.Time, b diagnose.Budgets) bool {
	if e.Reason != "FailedCreate" {
		return false
	}
	first := e.FirstTimestamp.Time
	if first.IsZero() {
		first = eventTime(e)
	}
	return now.Sub(first) <= b.Unschedulable || have >= want
}

// transientReplicaFailure is transientCreateFailure for a Deployment's ReplicaFailure
// condition, which the controller copies from its ReplicaSet's first FailedCreate: a quota
// that frees up as an old pod goes clears it within the budget.
func transientReplicaFailure(p progress, now time.Time, b diagnose.Budgets) bool {
	if p.own.Reason != "FailedCreate" || p.ownSince.IsZero() {
		return false
	}
	return now.Sub(p.ownSince) <= b.Unschedulable || (p.observed && p.have >= p.want)
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// apiProbeEvery is how often, during a watch, the API server's /readyz is asked whether it is
// still there: the informers' reflectors retry a refused connection quietly, so their silence
// alone cannot tell a quiet rollout from a lost API server.
const apiProbeEvery = 2 * time.Second

// apiState tracks since when the API server has been unreachable.
type apiState struct {
	clk       clock.PassiveClock
	mu        sync.Mutex
	since     time.Time
	lastProbe time.Time
	err       error
}

func (a *apiState) watchError(ctx context.Context, r *cache.Reflector, err error) {
	a.mu.Lock()
	if a.since.IsZero() {
		a.since = a.clk.Now()
	}
	a.err = err
	a.mu.Unlock()
	cache.DefaultWatchErrorHandler(ctx, r, err)
}

func (a *apiState) lastErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// downFor returns how long the API server has been unreachable (0 while it answers), asking
// its /readyz at most every apiProbeEvery.
func (a *apiState) downFor(ctx context.Context, cs kubernetes.Interface) time.Duration {
	now := a.clk.Now()
	a.mu.Lock()
	probe := now.Sub(a.lastProbe) >= apiProbeEvery
	if probe {
		a.lastProbe = now
	}
	a.mu.Unlock()
	if probe {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(pctx)
		cancel()
		a.mu.Lock()
		if err == nil {
			a.since, a.err = time.Time{}, nil
		} else if a.since.IsZero() {
			a.since, a.err = now, err
		}
		a.mu.Unlock()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.since.IsZero() {
		return 0
	}
	return now.Sub(a.since)
}
