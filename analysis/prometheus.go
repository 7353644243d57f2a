// Package analysis judges a release on live metrics: a Prometheus client over
// prometheus/client_golang's API, PromQL templates with named placeholders, and a pure verdict
// (pass, fail, no data, not yet) from values, counts and thresholds.
package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Sample is one query result: a value, or no data (an empty vector, NaN) — which is not zero.
type Sample struct {
	Value  float64
	NoData bool
}

// Series is one series of a vector result: its labels and value.
type Series struct {
	Labels map[string]string
	Value  float64
}

// Prometheus queries one Prometheus server.
type Prometheus struct {
	api  promv1.API
	name string // the server's URL without credentials, for errors
}

// NewPrometheus returns a client of the Prometheus at address (http(s)://host:port[/path];
// user:password@ in the URL is used for basic auth and never shown). client nil: a client
// with a 10s timeout.
func NewPrometheus(address string, client *http.Client) (*Prometheus, error) {
	return NewPrometheusWith(address, Auth{}, client)
}

// Auth is how a Prometheus is reached beyond its URL: a bearer token, and headers sent with
// every query (X-Scope-OrgID for a Mimir, Cortex or Thanos tenant).
type Auth struct {
	Token   string
	Headers map[string]string
}

// NewPrometheusWith is NewPrometheus with a token and headers on every request.
func NewPrometheusWith(address string, a Auth, client *http.Client) (*Prometheus, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus_url: %q is not an http(s) URL", redactURL(address))
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if a.Token != "" || len(a.Headers) > 0 {
		base := client.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c := *client
		c.Transport = &authed{base: base, a: a}
		client = &c
	}
	c, err := api.NewClient(api.Config{Address: address, Client: client})
	if err != nil {
		return nil, fmt.Errorf("prometheus at %s: %w", redactURL(address), err)
	}
	return &Prometheus{api: promv1.NewAPI(c), name: redactURL(address)}, nil
}

// URL is the server's address without credentials.
func (p *Prometheus) URL() string { return p.name }

// Query evaluates an instant query that should give one number (a scalar, or a vector of at
// most one series; more than one is an error: say what to sum by).
func (p *Prometheus) Query(ctx context.Context, promQL string) (Sample, error) {
	series, scalar, err := p.query(ctx, promQL, time.Now())
	if err != nil {
		return Sample{}, err
	}
	if scalar != nil {
		return sampleOf(*scalar), nil
	}
	switch len(series) {
	case 0:
		return Sample{NoData: true}, nil
	case 1:
		return sampleOf(series[0].Value), nil
	}
	return Sample{}, fmt.Errorf("prometheus at %s: query %q gave %d series, want one (aggregate it, e.g. sum(...))", p.name, promQL, len(series))
}

// QueryVector evaluates an instant query now and returns every series, sorted by labels.
func (p *Prometheus) QueryVector(ctx context.Context, promQL string) ([]Series, error) {
	return p.QueryVectorAt(ctx, promQL, time.Now())
}

// QueryVectorAt evaluates an instant query at a time and returns every series, sorted by
// labels (a raw counter's series at a time: each one's last scrape at or before it).
func (p *Prometheus) QueryVectorAt(ctx context.Context, promQL string, at time.Time) ([]Series, error) {
	series, scalar, err := p.query(ctx, promQL, at)
	if scalar != nil {
		series = []Series{{Labels: map[string]string{}, Value: *scalar}}
	}
	return series, err
}

func (p *Prometheus) query(ctx context.Context, promQL string, at time.Time) ([]Series, *float64, error) {
	v, _, err := p.api.Query(ctx, promQL, at)
	if err != nil {
		return nil, nil, fmt.Errorf("prometheus at %s: query %q: %w", p.name, promQL, scrub(err))
	}
	switch v := v.(type) {
	case *model.Scalar:
		f := float64(v.Value)
		return nil, &f, nil
	case model.Vector:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			l := map[string]string{}
			for k, val := range s.Metric {
				l[string(k)] = string(val)
			}
			out = append(out, Series{Labels: l, Value: float64(s.Value)})
		}
		sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].Labels) < fmt.Sprint(out[j].Labels) })
		return out, nil, nil
	}
	return nil, nil, fmt.Errorf("prometheus at %s: query %q gave a %s, want a number or a vector", p.name, promQL, v.Type())
}

func sampleOf(f float64) Sample {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Sample{NoData: true}
	}
	return Sample{Value: f}
}

// redactURL drops the user info of a URL (credentials are never shown).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User = nil
	return u.String()
}

// scrub removes a URL's credentials from an error's text (net/url errors quote the URL).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	msg := err.Error()
	if i := strings.Index(msg, "@"); i >= 0 && strings.Contains(msg[:i], "://") {
		return errors.New("request failed (details hidden: they quote credentials)")
	}
	return err
}

// authed puts the token and the headers on every request.
type authed struct {
	base http.RoundTripper
	a    Auth
}

func (t *authed) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.a.Headers {
		req.Header.Set(k, v)
	}
	if t.a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.a.Token)
	}
	return t.base.RoundTrip(req)
}
