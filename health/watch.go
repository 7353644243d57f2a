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
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Target is what one watch follows: Deployments of one namespace (one release, or several
// releases — colours, tracks — at once).
type Target struct {
	Namespace   string
	Deployments []string
	// Since: events older than this are history, not evidence (a rollback may reuse an old
	// ReplicaSet whose old events are still there).
	Since time.Time
}

// Result is a watch's verdict.
type Result struct {
	Ready bool
	// Signals are the failure evidence, the first the one that decided; empty when Ready.
	Signals []diagnose.Signal
	// Deployment is the one that failed; Selector selects its new pods (for diagnosis).
	Deployment string
	Selector   labels.Selector
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

// Watch blocks until every Deployment of t is complete (Ready), a failure signal appears, or
// ctx ends. When ctx ends it returns ctx.Err() with the best evidence at that moment: the
// pods' own signals (budgets waived), else a deadline signal with the last progress.
func (w *Watcher) Watch(ctx context.Context, t Target) (Result, error) {
	clk := w.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	budgets := w.Budgets
	if budgets == (diagnose.Budgets{}) {
		budgets = diagnose.DefaultBudgets()
	}
	tick := w.Tick
	if tick <= 0 {
		tick = 250 * time.Millisecond
	}
	if len(t.Deployments) == 0 {
		return Result{Ready: true}, nil
	}
	factory := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, informers.WithNamespace(t.Namespace))
	deps := factory.Apps().V1().Deployments()
	rss := factory.Apps().V1().ReplicaSets()
	pods := factory.Core().V1().Pods()
	events := factory.Core().V1().Events()
	changed := make(chan struct{}, 1)
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke(changed) },
		UpdateFunc: func(any, any) { poke(changed) },
		DeleteFunc: func(any) { poke(changed) },
	}
	api := &apiState{clk: clk}
	for _, inf := range []cache.SharedIndexInformer{deps.Informer(), rss.Informer(), pods.Informer(), events.Informer()} {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return Result{}, err
		}
		if err := inf.SetWatchErrorHandlerWithContext(api.watchError); err != nil {
			return Result{}, err
		}
	}
	bound := w.APILossBound
	if bound <= 0 {
		bound = 60 * time.Second
	}
	stop := make(chan struct{})
	defer func() { close(stop); factory.Shutdown() }()
	factory.Start(stop)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			return Result{}, fmt.Errorf("watch %s in %s: cache did not sync", typ, t.Namespace)
		}
	}
	s := &snapshot{t: t, budgets: budgets}
	ticker := clk.NewTicker(tick)
	defer ticker.Stop()
	last := ""
	for {
		s.load(deps.Lister(), rss.Lister(), pods.Lister(), events.Lister())
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
				r.Signals = []diagnose.Signal{{Category: diagnose.Deadline, Object: "Deployment/" + r.Deployment,
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
	deps    map[string]*appsv1.Deployment
	rss     []*appsv1.ReplicaSet
	pods    []*corev1.Pod
	events  []*corev1.Event
}

// load reads the informers' caches (no API call).
func (s *snapshot) load(dl appslisters.DeploymentLister, rl appslisters.ReplicaSetLister, pl corelisters.PodLister, el corelisters.EventLister) {
	ns := s.t.Namespace
	s.deps = map[string]*appsv1.Deployment{}
	for _, n := range s.t.Deployments {
		if d, err := dl.Deployments(ns).Get(n); err == nil {
			s.deps[n] = d
		}
	}
	s.rss, _ = rl.ReplicaSets(ns).List(labels.Everything())
	s.pods, _ = pl.Pods(ns).List(labels.Everything())
	s.events, _ = el.Events(ns).List(labels.Everything())
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
	names := append([]string(nil), s.t.Deployments...)
	sort.Strings(names)
	for _, name := range names {
		d := s.deps[name]
		if d == nil {
			allDone = false
			lines = append(lines, name+": not found yet")
			continue
		}
		done, line := Complete(d)
		lines = append(lines, line)
		if !done {
			allDone = false
		}
		if res.Deployment == "" {
			res.Deployment = name
		}
		// The deployment's own verdict (deadline, replica failure) comes after what its pods
		// and events show: those say why.
		depSig, depBad := diagnose.DeploymentSignal(d)
		addDeploymentSignal := func() {
			if depBad {
				res.Signals = append(res.Signals, depSig)
				if len(res.Signals) == 1 {
					res.Deployment = name
				}
			}
		}
		if d.Status.ObservedGeneration < d.Generation {
			addDeploymentSignal()
			continue
		}
		rs := NewReplicaSet(d, s.rss)
		if rs == nil {
			addDeploymentSignal()
			continue
		}
		sel := labels.SelectorFromSet(rs.Spec.Selector.MatchLabels)
		if h := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" {
			sel = labels.SelectorFromSet(labels.Merge(rs.Spec.Selector.MatchLabels, map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: h}))
		}
		if res.Selector == nil || res.Deployment == name {
			res.Selector = sel
		}
		newPods := PodsOf(rs, s.pods)
		podNames := map[string]bool{}
		for _, p := range newPods {
			podNames[p.Name] = true
			if sig, bad := diagnose.PodSignal(p, now, budgets); bad {
				res.Signals = append(res.Signals, sig)
				if len(res.Signals) == 1 {
					res.Deployment, res.Selector = name, sel
				}
			}
		}
		for _, e := range s.events {
			if eventTime(e).Before(s.t.Since) {
				continue
			}
			io := e.InvolvedObject
			if !(io.Kind == "Pod" && podNames[io.Name]) && !(io.Kind == "ReplicaSet" && io.Name == rs.Name) {
				continue
			}
			if sig, bad := diagnose.EventSignal(e); bad && !transientCreateFailure(e, rs, now, budgets) {
				res.Signals = append(res.Signals, sig)
				if len(res.Signals) == 1 {
					res.Deployment, res.Selector = name, sel
				}
			}
		}
		addDeploymentSignal()
	}
	res.Status = strings.Join(lines, "; ")
	res.Ready = allDone && len(res.Signals) == 0
	return res
}

// transientCreateFailure tells a FailedCreate that may yet resolve (the ReplicaSet controller
// retries: a namespace's ServiceAccount appears a moment after it, a quota frees up as old pods
// go) from one that persists: it counts once it is older than the unschedulable budget and the
// ReplicaSet is still short of pods.
func transientCreateFailure(e *corev1.Event, rs *appsv1.ReplicaSet, now time.Time, b diagnose.Budgets) bool {
	if e.Reason != "FailedCreate" {
		return false
	}
	first := e.FirstTimestamp.Time
	if first.IsZero() {
		first = eventTime(e)
	}
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	return now.Sub(first) <= b.Unschedulable || rs.Status.Replicas >= want
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
