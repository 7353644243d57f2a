// Package sessiontest is a strategy.Session for unit tests of a strategy's cluster half:
// client-go's fake clients for the Kubernetes API, Helm's history as a slice, an instant clock,
// scripted watches, and one log of every write in the order it was made.
package sessiontest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Namespace is the fake's namespace.
const Namespace = "ns"

// Fake is a strategy.Session over fake clients. Its zero value is not usable: use New.
type Fake struct {
	Typed   *fake.Clientset
	Dynamic *dynamicfake.FakeDynamicClient
	// History is the release's Helm history, oldest first; Apply appends to it.
	Releases []*helmrelease.Release
	// Out is the run's outcome; Events its timeline.
	Out    outcome.Outcome
	Events []outcome.Event
	// Watch answers a watch of w (nil: every workload Ready).
	WatchFn func(w release.Workloads) (health.Result, error)
	// SteadyFn answers a steady watch (nil: steady).
	SteadyFn func(deployments []string) (*diagnose.Signal, error)
	// ApplyFn renders an Apply into a revision's manifest (nil: an empty manifest).
	ApplyFn func(a strategy.Apply) (string, error)
	// SmokeFn answers the smoke tests of the Deployments (nil: they pass).
	SmokeFn func(deployments []string, via *strategy.SmokeVia) *diagnose.Signal
	// RecordErr fails every Record (the Lease cannot be written).
	RecordErr error
	// Phase and Notes are the last recorded; Left: the run said it stops with work left.
	Phase string
	Rev   int
	Notes map[string]string
	Left  bool

	mu  sync.Mutex
	log []string
}

var _ strategy.Session = (*Fake)(nil)

// New is a Fake whose clusters hold objs (typed objects; unstructured ones go to the dynamic
// client, whose resources are listed in lists: GVR to list kind).
func New(lists map[schema.GroupVersionResource]string, objs ...runtime.Object) *Fake {
	var typed, dyn []runtime.Object
	for _, o := range objs {
		if _, ok := o.(*unstructured.Unstructured); ok {
			dyn = append(dyn, o)
		} else {
			typed = append(typed, o)
		}
	}
	f := &Fake{Typed: fake.NewSimpleClientset(typed...), Notes: map[string]string{}}
	f.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, dyn...)
	f.Dynamic.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured)
		rules, _ := json.Marshal(obj.Object["spec"].(map[string]any)["rules"])
		f.add("%s %s %s", a.GetResource().Resource, obj.GetName(), rules)
		return false, nil, nil
	})
	for _, res := range []string{"services", "horizontalpodautoscalers", "deployments"} {
		f.Typed.PrependReactor("patch", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			p := a.(k8stesting.PatchAction)
			f.add("patch %s %s %s", a.GetResource().Resource, p.GetName(), p.GetPatch())
			return false, nil, nil
		})
	}
	f.Typed.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.add("delete %s %s", a.GetResource().Resource, a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	return f
}

func (f *Fake) add(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf(format, a...))
}

// Log is every write so far, in order: "scale NAME N", "record PHASE REV", "apply REV",
// "mark REV STATUS", "patch RESOURCE NAME PATCH", "delete RESOURCE NAME", "httproutes NAME RULES".
func (f *Fake) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// Reset forgets the writes so far.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
}

// Deployment adds Deployment name with replicas (ready of them Ready, updated and available)
// and pod labels.
func (f *Fake) Deployment(name string, replicas, ready int32, labels map[string]string) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec:   appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready, UpdatedReplicas: ready, AvailableReplicas: ready}}
	d.Spec.Template.Labels = labels
	if err := f.Typed.Tracker().Add(d); err != nil {
		panic(err)
	}
}

// Replicas is Deployment name's spec.replicas (-1: no such Deployment).
func (f *Fake) Replicas(name string) int32 {
	d, err := f.Typed.AppsV1().Deployments(Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil {
		return -1
	}
	return *d.Spec.Replicas
}

// Apply writes the next revision (pending-upgrade becomes deployed at once), rendered by ApplyFn.
func (f *Fake) Apply(_ context.Context, a strategy.Apply) (*helmrelease.Release, strategy.Revision, error) {
	manifest := ""
	if f.ApplyFn != nil {
		var err error
		if manifest, err = f.ApplyFn(a); err != nil {
			return nil, strategy.Revision{}, err
		}
	}
	if a.PostRender != nil {
		var err error
		if manifest, err = a.PostRender(manifest); err != nil {
			return nil, strategy.Revision{}, err
		}
	}
	rel := &helmrelease.Release{Name: "web", Namespace: Namespace, Version: len(f.Releases) + 1, Manifest: manifest,
		Labels: f.upgradeLabels(a.Labels), Config: a.Values, Chart: a.Chart, Info: &helmrelease.Info{Status: helmrelease.StatusDeployed, Description: a.Description}}
	for _, h := range f.Releases {
		if h.Info.Status == helmrelease.StatusDeployed {
			h.Info.Status = helmrelease.StatusSuperseded
		}
	}
	f.Releases = append(f.Releases, rel)
	f.Out.Revision = rel.Version
	f.add("apply %d", rel.Version)
	if err := f.applyDeployments(manifest); err != nil {
		return rel, strategy.Revision{Number: rel.Version}, err
	}
	return rel, strategy.Revision{Number: rel.Version}, nil
}

// upgradeLabels are the labels the next revision gets through release.Helm's upgrade: Helm's
// upgrade keeps the latest revision's, then sets those asked for, a value "null" removing one
// (helm.sh/helm/v3 pkg/action/upgrade.go, mergeCustomLabels); release.UpgradeLabels asks to
// remove Shepherd's own labels the upgrade does not set again.
func (f *Fake) upgradeLabels(asked map[string]string) map[string]string {
	out := map[string]string{}
	var last map[string]string
	if n := len(f.Releases); n > 0 {
		last = f.Releases[n-1].Labels
		for k, v := range last {
			out[k] = v
		}
	}
	for k, v := range release.UpgradeLabels(asked, last) {
		out[k] = v
	}
	for k, v := range out {
		if v == "null" {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// applyDeployments creates or updates the manifest's Deployments as Helm would, each Ready at
// the replicas it asks for at once (a Deployment without replicas keeps its count, or 1).
func (f *Fake) applyDeployments(manifest string) error {
	resources, err := release.SplitManifest(manifest)
	if err != nil {
		return err
	}
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	for _, r := range resources {
		if r.Kind != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(r.Raw), &d); err != nil {
			return err
		}
		d.Namespace = Namespace
		old, err := f.Typed.AppsV1().Deployments(Namespace).Get(context.Background(), d.Name, metav1.GetOptions{})
		if d.Spec.Replicas == nil {
			n := int32(1)
			if err == nil && old.Spec.Replicas != nil {
				n = *old.Spec.Replicas
			}
			d.Spec.Replicas = &n
		}
		d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = *d.Spec.Replicas, *d.Spec.Replicas, *d.Spec.Replicas
		if err == nil {
			d.ObjectMeta = old.ObjectMeta
			err = f.Typed.Tracker().Update(gvr, &d, Namespace)
		} else {
			err = f.Typed.Tracker().Add(&d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// History is the release's history.
func (f *Fake) History() ([]*helmrelease.Release, error) { return f.Releases, nil }

// Mark sets revision rev's status.
func (f *Fake) Mark(rev int, status helmrelease.Status, why string) error {
	for _, h := range f.Releases {
		if h.Version == rev {
			h.Info.Status, h.Info.Description = status, why
			f.add("mark %d %s", rev, status)
			return nil
		}
	}
	return fmt.Errorf("no revision %d", rev)
}

// ChartOf is the revision's stored chart.
func (f *Fake) ChartOf(_ context.Context, rel *helmrelease.Release) (*chart.Chart, error) {
	return rel.Chart, nil
}

// Scale sets the Deployment's spec.replicas (its Ready count follows at once).
func (f *Fake) Scale(ctx context.Context, name string, replicas int) error {
	f.add("scale %s %d", name, replicas)
	d, err := f.Typed.AppsV1().Deployments(Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if replicas == 0 {
			return nil
		}
		return fmt.Errorf("scale %s to %d: %w", name, replicas, err)
	}
	n := int32(replicas)
	d.Spec.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = &n, n, n, n
	return f.Typed.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), d, Namespace)
}

// Watch answers with WatchFn, or Ready.
func (f *Fake) Watch(_ context.Context, w release.Workloads, _ time.Time) (health.Result, error) {
	f.add("watch %s", strings.Join(w.Deployments, ","))
	if f.WatchFn != nil {
		return f.WatchFn(w)
	}
	return health.Result{Ready: true, Status: "ready"}, nil
}

// Steady answers with SteadyFn, or steady.
func (f *Fake) Steady(_ context.Context, deployments []string, _ time.Duration) (*diagnose.Signal, error) {
	if f.SteadyFn != nil {
		return f.SteadyFn(deployments)
	}
	return nil, nil
}

// Record keeps the phase and notes (or fails with RecordErr).
func (f *Fake) Record(_ context.Context, phase kube.Phase, rev int, notes map[string]string) error {
	if f.RecordErr != nil {
		return f.RecordErr
	}
	f.add("record %s %d", phase, rev)
	f.Phase, f.Rev = string(phase), rev
	for k, v := range notes {
		f.Notes[k] = v
	}
	return nil
}

// RecordIf records unless check refuses the Lease's notes as they are (Notes: a test puts
// another run's notes there).
func (f *Fake) RecordIf(ctx context.Context, phase kube.Phase, rev int, notes map[string]string, check func(map[string]string) error) error {
	if err := check(f.Notes); err != nil {
		return err
	}
	return f.Record(ctx, phase, rev, notes)
}

// Smoke answers with SmokeFn, or passes.
func (f *Fake) Smoke(_ context.Context, deployments []string, via *strategy.SmokeVia) *diagnose.Signal {
	f.add("smoke %s", strings.Join(deployments, ","))
	if f.SmokeFn != nil {
		return f.SmokeFn(deployments, via)
	}
	return nil
}

// Recorded is the last phase recorded.
func (f *Fake) Recorded() string { return f.Phase }

// Unfinished notes that the run stops with work left.
func (f *Fake) Unfinished() { f.Left = true }

// Emit keeps e.
func (f *Fake) Emit(_ context.Context, e outcome.Event) { f.Events = append(f.Events, e) }

// Said reports whether an event's message contains s.
func (f *Fake) Said(s string) bool {
	for _, e := range f.Events {
		if strings.Contains(e.Message, s) {
			return true
		}
	}
	return false
}

// Diagnose keeps the reason and why as they are (the diagnosis is the engine's, tested there).
func (f *Fake) Diagnose(_ context.Context, _ *health.Result, _ string, reason diagnose.Category, why string) (diagnose.Category, string) {
	return reason, why
}

// Outcome is the run's outcome.
func (f *Fake) Outcome() *outcome.Outcome { return &f.Out }

// Kube is the fake clients, in Namespace.
func (f *Fake) Kube() strategy.Kube {
	return strategy.Kube{Typed: f.Typed, Namespace: Namespace, Dynamic: func() (dynamic.Interface, error) { return f.Dynamic, nil }}
}

// Clock is the real clock whose waits end at once.
func (f *Fake) Clock() clock.WithTicker { return Instant{} }

// Instant is the real clock whose waits (After) end at once: settles and polls take no time.
type Instant struct{ clock.RealClock }

// After fires at once.
func (Instant) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

// Cluster is the engine's strategy.Cluster over a Fake: upgrades are Fake's applies, watches
// its watches; a Helm rollback is logged ("rollback REV") and sets the outcome rolled-back.
type Cluster struct{ F *Fake }

var _ strategy.Cluster = Cluster{}

// Upgrade applies the run's chart.
func (c Cluster) Upgrade(ctx context.Context) (strategy.Revision, error) {
	rel, rev, err := c.F.Apply(ctx, strategy.Apply{Description: "upgrade"})
	if err != nil {
		return rev, err
	}
	wl, err := release.WorkloadsOf(rel.Manifest)
	return strategy.Revision{Number: rel.Version, Workloads: wl}, err
}

// Watch is the Fake's.
func (c Cluster) Watch(ctx context.Context, w release.Workloads, since time.Time) (health.Result, error) {
	return c.F.Watch(ctx, w, since)
}

// CheckHealth is healthy.
func (c Cluster) CheckHealth(context.Context) *diagnose.Signal { return nil }

// RollBack logs the rollback of f's revision and calls the run rolled back.
func (c Cluster) RollBack(_ context.Context, f *strategy.Failure) {
	c.F.add("rollback %d", f.Revision)
	c.F.Out.Status = outcome.RolledBack
}

// Info is an event.
func (c Cluster) Info(ctx context.Context, phase, format string, a ...any) {
	c.F.Emit(ctx, outcome.Event{Phase: phase, Level: outcome.Info, Message: fmt.Sprintf(format, a...)})
}

// Warn is an event.
func (c Cluster) Warn(ctx context.Context, phase, format string, a ...any) {
	c.F.Emit(ctx, outcome.Event{Phase: phase, Level: outcome.Warn, Message: fmt.Sprintf(format, a...)})
}

// Now is the real time.
func (c Cluster) Now() time.Time { return time.Now() }
