package analysis

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// dialedPrometheus is a Prometheus reached through a Dialer (a port-forward through the API
// server to a pod of an in-cluster Service): dialed on first use, dialed again when a query
// fails (the pod went away), closed by Close.
type dialedPrometheus struct {
	o Options

	mu    sync.Mutex
	cur   *PrometheusProvider
	close func()
}

var _ Provider = (*dialedPrometheus)(nil)

// Latency says whether the latency is read.
func (s *dialedPrometheus) Latency() bool { return s.o.Queries.WithLatency }

// Observe reads a track, dialing again once if the backend stopped answering.
func (s *dialedPrometheus) Observe(ctx context.Context, t Track) (Observation, error) {
	var o Observation
	err := s.try(ctx, func(p *PrometheusProvider) (err error) { o, err = p.Observe(ctx, t); return err })
	return o, err
}

// Check dials and runs each query once.
func (s *dialedPrometheus) Check(ctx context.Context, t Track) error {
	return s.try(ctx, func(p *PrometheusProvider) error { return p.Check(ctx, t) })
}

func (s *dialedPrometheus) try(ctx context.Context, f func(*PrometheusProvider) error) error {
	for i := 0; ; i++ {
		p, err := s.provider(ctx)
		if err != nil {
			return err
		}
		if err = f(p); err == nil || i == 1 || ctx.Err() != nil {
			return err
		}
		s.Close() // the next round dials again
	}
}

// provider is the Prometheus behind the current dial, dialed if there is none.
func (s *dialedPrometheus) provider(ctx context.Context) (*PrometheusProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur, nil
	}
	d, err := s.o.Dial(ctx)
	if err != nil {
		return nil, err
	}
	client := s.o.Client
	if d.Transport != nil {
		c := http.Client{Timeout: 10 * time.Second}
		if client != nil {
			c = *client
		}
		c.Transport = d.Transport
		client = &c
	}
	p, err := NewPrometheusWith(d.URL, s.o.Auth, client)
	if err != nil {
		if d.Close != nil {
			d.Close()
		}
		return nil, err
	}
	s.cur, s.close = &PrometheusProvider{P: p, Queries: s.o.Queries, Inputs: s.o.Inputs}, d.Close
	return s.cur, nil
}

// Close ends the current dial (the run calls it when it ends).
func (s *dialedPrometheus) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.close != nil {
		s.close()
	}
	s.cur, s.close = nil, nil
	return nil
}
