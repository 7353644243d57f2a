package testcluster

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// The data plane makes the example app's pods real: every Running pod whose first container's
// image is the example app (a repository ending in /example-app, any tag, except the tags that
// name a simulated fault) is backed by a real examples/app process on loopback, started with
// the container's literal env. Readiness follows the process's readiness probe, a process that
// exits is a crash loop (its output comes back through `kubectl logs --previous`), a
// port-forward to the pod reaches the process, traffic flows to Services' ready endpoints
// (traffic.go), and Prometheus scrapes every process (prometheus.go).

// exampleAppImage marks the example app's image: repository ending in /example-app.
const exampleAppImage = "/example-app:"

// faultMarkers are the image markers kwok's failure stages simulate; those pods stay fake.
var faultMarkers = []string{"bad-image", "crashloop", "never-ready"}

// Kwok's per-pod resources (named after the pod).
var (
	logsGVR        = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}
	portForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}
)

// servesForReal reports whether the data plane runs pod as a real process.
func servesForReal(p *corev1.Pod) bool {
	if len(p.Spec.Containers) == 0 || !strings.Contains(p.Spec.Containers[0].Image, exampleAppImage) {
		return false
	}
	for _, m := range faultMarkers {
		if strings.Contains(p.Spec.Containers[0].Image, m) {
			return false
		}
	}
	return true
}

// dataPlane runs the example app's pods as processes.
type dataPlane struct {
	c      *Cluster
	app    string // the example app binary
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	pods map[types.UID]*podProc
	prom *prometheus
	// targetsMu serialises targetsChanged from reading the processes to writing the file, so a
	// slower writer never puts back an older list.
	targetsMu sync.Mutex
}

// startDataPlane builds the example app, installs the stage that leaves its pods' readiness to
// the data plane, starts Prometheus, the pod watch and the traffic.
func (c *Cluster) startDataPlane(ctx context.Context, rps int) error {
	app := filepath.Join(c.Dir, "example-app")
	if err := buildExampleApp(ctx, app); err != nil {
		return err
	}
	data, _ := stageFiles.ReadFile("stages/dataplane.yaml")
	if err := c.ApplyObjects(ctx, StageGVR, "", data); err != nil {
		return err
	}
	dctx, cancel := context.WithCancel(context.Background())
	dp := &dataPlane{c: c, app: app, ctx: dctx, cancel: cancel, pods: map[types.UID]*podProc{}}
	c.dataPlane = dp
	prom, err := c.startPrometheus(ctx)
	if err != nil {
		return err
	}
	dp.prom = prom
	c.PrometheusURL = prom.url
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	pods := factory.Core().V1().Pods().Informer()
	_, err = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { dp.reconcile(o) },
		UpdateFunc: func(_, o any) { dp.reconcile(o) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				dp.stopPod(p.UID)
			}
		},
	})
	if err != nil {
		return err
	}
	tr := newTraffic(dp, factory, rps)
	factory.Start(dctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	dp.wg.Add(1)
	go func() { defer dp.wg.Done(); tr.run(dctx) }()
	return nil
}

// buildExampleApp builds examples/app of this module into out.
func buildExampleApp(ctx context.Context, out string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./examples/app")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testcluster: build examples/app: %v\n%s", err, b)
	}
	return nil
}

// reconcile starts a process for a pod that should have one and stops it for a pod going away.
func (dp *dataPlane) reconcile(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok || !servesForReal(p) {
		return
	}
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		if p.DeletionTimestamp != nil {
			dp.stopPod(p.UID)
		}
		return
	}
	dp.mu.Lock()
	defer dp.mu.Unlock()
	if _, running := dp.pods[p.UID]; running || dp.ctx.Err() != nil {
		return
	}
	pp, err := newPodProc(dp, p)
	if err != nil {
		fmt.Fprintf(dp.c.progress, "testcluster: data plane: pod %s/%s: %v\n", p.Namespace, p.Name, err)
		return
	}
	dp.pods[p.UID] = pp
	dp.wg.Add(1)
	go func() { defer dp.wg.Done(); pp.run(dp.ctx) }()
}

func (dp *dataPlane) stopPod(uid types.UID) {
	dp.mu.Lock()
	pp := dp.pods[uid]
	delete(dp.pods, uid)
	dp.mu.Unlock()
	if pp != nil {
		pp.stop()
		dp.targetsChanged()
	}
}

// byPod returns the running process of pod ns/name, if any.
func (dp *dataPlane) byPod(ns, name string) *podProc {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	for _, pp := range dp.pods {
		if pp.ns == ns && pp.name == name {
			return pp
		}
	}
	return nil
}

// PodAddress returns the loopback address (host:port) of the process the data plane runs for
// pod ns/name, while it runs.
func (c *Cluster) PodAddress(ns, name string) (string, bool) {
	if c.dataPlane == nil {
		return "", false
	}
	pp := c.dataPlane.byPod(ns, name)
	if pp == nil || !pp.up() {
		return "", false
	}
	return "127.0.0.1:" + strconv.Itoa(pp.port), true
}

// PodPID returns the process ID of the process the data plane runs for pod ns/name, while it
// runs.
func (c *Cluster) PodPID(ns, name string) (int, bool) {
	if c.dataPlane == nil {
		return 0, false
	}
	pp := c.dataPlane.byPod(ns, name)
	if pp == nil {
		return 0, false
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.pid, pp.running
}

// DataPlanePIDs returns the process IDs of the data plane: every running example app process
// and Prometheus (to measure what the data plane costs).
func (c *Cluster) DataPlanePIDs() (apps []int, prometheus int) {
	if c.dataPlane == nil {
		return nil, 0
	}
	c.dataPlane.mu.Lock()
	for _, pp := range c.dataPlane.pods {
		pp.mu.Lock()
		if pp.running {
			apps = append(apps, pp.pid)
		}
		pp.mu.Unlock()
	}
	c.dataPlane.mu.Unlock()
	return apps, c.PIDs()["prometheus"]
}

// targetsChanged rewrites Prometheus's targets: every process that is up.
func (dp *dataPlane) targetsChanged() {
	dp.targetsMu.Lock()
	defer dp.targetsMu.Unlock()
	dp.mu.Lock()
	var ts []target
	for _, pp := range dp.pods {
		if pp.up() {
			ts = append(ts, pp.target())
		}
	}
	dp.mu.Unlock()
	if dp.prom != nil {
		if err := dp.prom.setTargets(ts); err != nil {
			fmt.Fprintf(dp.c.progress, "testcluster: data plane: prometheus targets: %v\n", err)
		}
	}
}

// stop ends every process, the watch and the traffic.
func (dp *dataPlane) stop() {
	dp.cancel()
	dp.mu.Lock()
	procs := make([]*podProc, 0, len(dp.pods))
	for _, pp := range dp.pods {
		procs = append(procs, pp)
	}
	dp.mu.Unlock()
	for _, pp := range procs {
		pp.stop()
	}
	done := make(chan struct{})
	go func() { dp.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
}

// ensurePodResource creates or replaces kwok's per-pod object (Logs, PortForward) for pod.
func (dp *dataPlane) ensurePodResource(ctx context.Context, gvr schema.GroupVersionResource, kind, ns, name string, spec map[string]any) error {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
	return dp.c.createOrReplace(ctx, gvr, ns, obj)
}
