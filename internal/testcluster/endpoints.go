package testcluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EndpointSampler reads a Service's EndpointSlices every 100 ms and keeps the fewest ready
// endpoints it saw: the figure that says whether a rollout, an abort or a cancellation ever
// left the Service with less than it should have.
type EndpointSampler struct {
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples int
	min     int
	minAt   time.Duration
	last    int
	start   time.Time
}

// SampleEndpoints starts sampling Service svc in ns until Stop.
func (c *Cluster) SampleEndpoints(ns, svc string) *EndpointSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &EndpointSampler{stop: cancel, done: make(chan struct{}), min: -1, start: time.Now()}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if n, err := c.ReadyEndpoints(ctx, ns, svc); err == nil {
				s.mu.Lock()
				s.samples++
				if s.min < 0 || n < s.min {
					s.min, s.minAt = n, time.Since(s.start)
				}
				s.last = n
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// ReadyEndpoints counts the ready endpoints of Service svc's EndpointSlices.
func (c *Cluster) ReadyEndpoints(ctx context.Context, ns, svc string) (int, error) {
	slices, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sl := range slices.Items {
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}

// EndpointFigures is what a sampler saw.
type EndpointFigures struct {
	Samples int
	// Min is the fewest ready endpoints seen (-1: no sample), at MinAt after the start.
	Min   int
	MinAt time.Duration
	Last  int
}

func (f EndpointFigures) String() string {
	return fmt.Sprintf("fewest ready endpoints %d (at +%.1fs), %d at the end, %d samples", f.Min, f.MinAt.Seconds(), f.Last, f.Samples)
}

// Stop ends the sampling and returns its figures.
func (s *EndpointSampler) Stop() EndpointFigures {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return EndpointFigures{Samples: s.samples, Min: s.min, MinAt: s.minAt, Last: s.last}
}
