package config

import (
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Prometheus as teams run it: a bearer token, or extra headers (X-Scope-OrgID for Mimir,
// Cortex, Grafana Cloud and Thanos tenants).
const (
	InPromToken   = "prometheus_token"
	InPromHeaders = "prometheus_headers"
)

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
	if (a.Token != "" || len(a.Headers) > 0) && c.PrometheusURL == "" {
		errs = append(errs, fmt.Errorf("%s: %s and %s need %s", InPrometheus, InPromToken, InPromHeaders, InPrometheus))
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
