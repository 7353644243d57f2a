package analysis

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// DefaultProvider is the metrics provider a canary reads when none is named.
const DefaultProvider = "prometheus"

// providers are the metrics providers by name: adding one is a file with its constructor and
// one line here.
var providers = map[string]func(Options) (Provider, error){
	DefaultProvider: newPrometheusProvider,
}

// Options is what a provider is built from: where the backend is, how to reach it, the
// queries and the inputs its errors name. The engine fills it from the configuration and
// supplies only what it alone can make (Dial: a way in through the API server).
type Options struct {
	// Input names the input that chose the provider, for the error on an unknown name
	// (empty: "metrics provider").
	Input string
	// URL is the backend's address (user:password@ in it is a credential, never printed);
	// unused when Dial is set.
	URL string
	// Auth is a token and headers sent with every query.
	Auth Auth
	// Queries are the counters or the user's templates, and what is read.
	Queries Queries
	// Inputs name the inputs errors point at: the address, the error-rate and the latency
	// queries.
	Inputs [3]string
	// Client is the HTTP client for URL (nil: a 10s timeout).
	Client *http.Client
	// Dial, when set, reaches a backend the runner cannot reach by itself (a Service inside
	// the cluster): made on first use, made again once when a query fails, closed by the
	// provider's Close.
	Dial Dialer
}

// Dialer opens a way to a backend: its base URL, the transport to use (nil: the default) and
// how to close it.
type Dialer func(ctx context.Context) (Dialed, error)

// Dialed is an open way to a backend.
type Dialed struct {
	URL       string
	Transport http.RoundTripper
	Close     func()
}

// NewProvider builds the metrics provider called name; an unknown name is an error naming the
// input and the providers there are.
func NewProvider(name string, o Options) (Provider, error) {
	f, ok := providers[name]
	if !ok {
		in := o.Input
		if in == "" {
			in = "metrics provider"
		}
		return nil, fmt.Errorf("%s: %q is not a metrics provider (allowed: %s)", in, name, strings.Join(ProviderNames(), ", "))
	}
	return f(o)
}

// ProviderNames are the registered providers' names, sorted.
func ProviderNames() []string {
	out := make([]string, 0, len(providers))
	for n := range providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// newPrometheusProvider is the Prometheus at o.URL, or behind o.Dial.
func newPrometheusProvider(o Options) (Provider, error) {
	if o.Dial != nil {
		return &dialedPrometheus{o: o}, nil
	}
	p, err := NewPrometheusWith(o.URL, o.Auth, o.Client)
	if err != nil {
		return nil, err
	}
	return &PrometheusProvider{P: p, Queries: o.Queries, Inputs: o.Inputs}, nil
}
