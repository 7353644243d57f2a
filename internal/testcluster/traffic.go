package testcluster

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// DefaultTrafficRPS is the load the data plane sends to every Service that selects pods of the
// example app.
const DefaultTrafficRPS = 20

// traffic sends GET /api/hello to every Service whose EndpointSlices list ready pods of the
// data plane, spread over those endpoints as kube-proxy would spread connections: the
// EndpointSlices are watched, so a selector switch or a replica change moves the traffic as
// soon as the endpoint controller has updated them.
type traffic struct {
	dp     *dataPlane
	rps    int
	slices cache.SharedIndexInformer
	client *http.Client
	sem    chan struct{} // bounds requests in flight

	mu   sync.Mutex
	next map[string]int // service → round-robin position
}

func newTraffic(dp *dataPlane, f informers.SharedInformerFactory, rps int) *traffic {
	if rps <= 0 {
		rps = DefaultTrafficRPS
	}
	return &traffic{dp: dp, rps: rps, slices: f.Discovery().V1().EndpointSlices().Informer(),
		client: &http.Client{Timeout: 5 * time.Second}, sem: make(chan struct{}, 256), next: map[string]int{}}
}

// run sends one request per Service every 1/rps seconds until ctx ends.
func (t *traffic) run(ctx context.Context) {
	tick := time.NewTicker(time.Second / time.Duration(t.rps))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for svc, ports := range t.endpoints() {
			t.mu.Lock()
			i := t.next[svc] % len(ports)
			t.next[svc] = i + 1
			t.mu.Unlock()
			select {
			case t.sem <- struct{}{}:
			default:
				continue // overloaded: skip rather than pile up
			}
			go func(port int) {
				defer func() { <-t.sem }()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/api/hello", nil)
				if err != nil {
					return
				}
				if resp, err := t.client.Do(req); err == nil {
					resp.Body.Close()
				}
			}(ports[i])
		}
	}
}

// endpoints maps each Service (namespace/name) to the local ports of its ready endpoints that
// the data plane runs, in a stable order.
func (t *traffic) endpoints() map[string][]int {
	out := map[string][]int{}
	for _, o := range t.slices.GetStore().List() {
		es, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		key := es.Namespace + "/" + svc
		for _, ep := range es.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			if pp := t.dp.byPod(es.Namespace, ep.TargetRef.Name); pp != nil && pp.up() {
				out[key] = append(out[key], pp.port)
			}
		}
	}
	return out
}
