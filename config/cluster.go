package config

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// The keyless inputs: a cluster that trusts GitHub's OIDC issuer, reached with the job's own
// ID token — no kubeconfig, no secret.
const (
	InClusterURL   = "cluster_url"
	InClusterCA    = "cluster_ca"
	InOIDCAudience = "oidc_audience"
	// InCloudEndpoints lists origins, besides the clouds' own, that the in-process cloud
	// logins may send credentials to.
	InCloudEndpoints = "cloud_endpoints"
)

// ParseCloudEndpoints reads the cloud_endpoints input: https origins (https://host or
// https://host:port), one per line or comma-separated.
func ParseCloudEndpoints(input string) ([]string, error) {
	var out []string
	for _, s := range strings.FieldsFunc(input, func(r rune) bool { return r == '\n' || r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("%s: %q is not an https origin (https://host or https://host:port, no path, credentials or query)", InCloudEndpoints, RedactURLs(s))
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// Keyless is how a run reaches a cluster that trusts GitHub's OIDC issuer.
type Keyless struct {
	// URL is the API server's URL ("": not keyless).
	URL string
	// CA is the API server's CA, PEM (nil: the system's roots).
	CA []byte
	// Audience is the ID token's audience (default: URL).
	Audience string
}

// keylessInputs reads the keyless inputs.
func (c *Config) keylessInputs(get func(string) string) []error {
	k := &c.Keyless
	var errs []error
	var err error
	if c.CloudEndpoints, err = ParseCloudEndpoints(get(InCloudEndpoints)); err != nil {
		errs = append(errs, err)
	}
	k.URL = strings.TrimRight(strings.TrimSpace(get(InClusterURL)), "/")
	k.Audience = strings.TrimSpace(get(InOIDCAudience))
	if k.Audience == "" {
		k.Audience = k.URL
	}
	ca := strings.TrimSpace(get(InClusterCA))
	if ca == "" {
		return errs
	}
	if !strings.Contains(ca, "-----BEGIN") {
		dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(ca), ""))
		if err != nil {
			return append(errs, fmt.Errorf("%s: neither PEM nor base64 of PEM (as a kubeconfig's certificate-authority-data)", InClusterCA))
		}
		ca = string(dec)
	}
	if b, _ := pem.Decode([]byte(ca)); b == nil || b.Type != "CERTIFICATE" {
		return append(errs, fmt.Errorf("%s: holds no PEM certificate", InClusterCA))
	}
	k.CA = []byte(ca)
	return errs
}

// validateKeyless reports the keyless inputs' problems.
func (c Config) validateKeyless() []error {
	var errs []error
	k := c.Keyless
	if k.URL == "" {
		if k.CA != nil || (k.Audience != "" && k.Audience != k.URL) {
			errs = append(errs, fmt.Errorf("%s: required with %s and %s (the API server's https URL)", InClusterURL, InClusterCA, InOIDCAudience))
		}
		return errs
	}
	if u, err := url.Parse(k.URL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s: %q is not an https URL (the API server's, e.g. https://ABC.gr7.eu-west-1.eks.amazonaws.com)", InClusterURL, k.URL))
	}
	if len(c.Kubeconfig) > 0 {
		errs = append(errs, fmt.Errorf("%s: give either %s (keyless, with the job's OIDC token) or %s, not both", InClusterURL, InClusterURL, InKubeconfig))
	}
	return errs
}
