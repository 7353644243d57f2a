package config

import (
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Prometheus as teams run it: a bearer token, or extra headers (X-Scope-OrgID for Mimir,
// Cortex, Grafana Cloud and Thanos tenants).
const (
	InPromToken   = "prometheus_token"
	InPromHeaders = "prometheus_headers"
	// InPromService is a Prometheus inside the cluster (NAMESPACE/SERVICE:PORT), reached
	// through the API server with the run's own credentials (a port-forward to one of its
	// pods): a GitHub-hosted runner cannot resolve prometheus.monitoring:9090.
	InPromService = "prometheus_service"
)

// PrometheusService is a Prometheus Service inside the cluster.
type PrometheusService struct {
	Namespace, Name string
	Port            string // the Service port's number or name
}

// String is NAMESPACE/SERVICE:PORT.
func (s PrometheusService) String() string { return s.Namespace + "/" + s.Name + ":" + s.Port }

// HasPrometheus says whether the canary's metrics are read at all (a URL or a Service).
func (c Config) HasPrometheus() bool { return c.PrometheusURL != "" || c.PrometheusService != nil }

// promServiceInput reads NAMESPACE/SERVICE:PORT.
func (c *Config) promServiceInput(get func(string) string) []error {
	v := strings.TrimSpace(get(InPromService))
	if v == "" {
		return nil
	}
	ns, rest, ok1 := strings.Cut(v, "/")
	name, port, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1035Label(name)) > 0 || port == "" {
		return []error{fmt.Errorf("%s: %q is not NAMESPACE/SERVICE:PORT (e.g. monitoring/prometheus-server:9090)", InPromService, v)}
	}
	c.PrometheusService = &PrometheusService{Namespace: ns, Name: name, Port: port}
	return nil
}

// PrometheusAuth is how the canary's metrics are read beyond the URL (whose user:password@ is
// basic auth).
type PrometheusAuth struct {
	// Token is sent as Authorization: Bearer. Secret: never print it.
	Token string `json:"-"`
	// Headers are sent with every query, by name.
	Headers map[string]string `json:"-"`
}

// prometheusInputs reads the token and the header lines ("Name: value", one a line).
func (c *Config) prometheusInputs(get func(string) string) []error {
	var errs []error
	c.PrometheusAuth.Token = strings.TrimSpace(get(InPromToken))
	for i, l := range lines(get(InPromHeaders)) {
		name, value, ok := strings.Cut(l, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			errs = append(errs, fmt.Errorf("%s: line %d is not a header (Name: value, e.g. X-Scope-OrgID: tenant-1)", InPromHeaders, i+1))
			continue
		}
		if c.PrometheusAuth.Headers == nil {
			c.PrometheusAuth.Headers = map[string]string{}
		}
		c.PrometheusAuth.Headers[name] = value
	}
	return errs
}

// validatePrometheusAuth: a token or an Authorization header, not both with the URL's user.
func (c Config) validatePrometheusAuth() []error {
	a := c.PrometheusAuth
	var errs []error
	if (a.Token != "" || len(a.Headers) > 0) && !c.HasPrometheus() {
		errs = append(errs, fmt.Errorf("%s: %s and %s need %s or %s", InPrometheus, InPromToken, InPromHeaders, InPrometheus, InPromService))
	}
	if c.PrometheusURL != "" && c.PrometheusService != nil {
		errs = append(errs, fmt.Errorf("%s: give %s (a URL the runner reaches) or %s (inside the cluster), not both", InPromService, InPrometheus, InPromService))
	}
	if a.Token != "" && len(URLSecrets(c.PrometheusURL)) > 0 {
		errs = append(errs, fmt.Errorf("%s: give a bearer token or user:password@ in %s, not both", InPromToken, InPrometheus))
	}
	return errs
}

// PrometheusSecrets are the Prometheus credentials to mask: the token, and the values of
// headers whose names say they are secret (Authorization, *token*, *key*, …).
func PrometheusSecrets(token, headerLines string) []string {
	var out []string
	if t := strings.TrimSpace(token); t != "" {
		out = append(out, t)
	}
	for _, l := range lines(headerLines) {
		name, value, ok := strings.Cut(l, ":")
		if value = strings.TrimSpace(value); ok && value != "" && secretHeader(strings.TrimSpace(name)) {
			out = append(out, value)
			if _, v, ok := strings.Cut(value, " "); ok { // "Bearer abc": abc alone too
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

func secretHeader(name string) bool {
	return strings.EqualFold(name, "Authorization") || secretKeyRE.MatchString(name)
}
