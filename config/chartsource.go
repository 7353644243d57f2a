package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// The inputs that say where a chart comes from beyond a local path: an OCI registry or a Helm
// repository, a version or range, credentials, a CA and a digest pin.
const (
	InChartVersion = "chart_version"
	InChartRepo    = "chart_repository"
	InChartDigest  = "chart_digest"
	InRegistryUser = "registry_username"
	InRegistryPass = "registry_password"
	InRegistryCA   = "registry_ca"
)

// GHCRUser is the user name sent to ghcr.io with the job's token when registry_username is
// not set (GitHub's registry reads the token, not the name).
const GHCRUser = "x-access-token"

// ChartSource is where the chart comes from, beyond Config.Chart.
type ChartSource struct {
	// Version is an exact chart version or a semver range ("~1.4"); "" the newest release.
	Version string
	// Repository is a Helm repository's URL; Chart is then a chart name in it.
	Repository string
	// Digest pins the chart's content ("sha256:…").
	Digest string
	// Username and Password authenticate to the registry or repository. Password is secret:
	// never print it.
	Username string
	Password string `json:"-"`
	// CA is a PEM bundle (or base64 of one, or a path to a PEM file, read at pre-flight).
	CA string
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// sourceInputs reads the chart-source inputs; the job's token is ghcr.io's default password.
func (c *Config) sourceInputs(get func(string) string) {
	s := &c.Source
	s.Version = strings.TrimSpace(get(InChartVersion))
	s.Repository = strings.TrimSpace(get(InChartRepo))
	s.Digest = strings.TrimSpace(get(InChartDigest))
	s.Username = strings.TrimSpace(get(InRegistryUser))
	s.Password = strings.TrimSpace(get(InRegistryPass))
	s.CA = strings.TrimSpace(get(InRegistryCA))
	tok := c.Notify.GitHubToken
	if s.Password == "" && (IsGHCR(c.Chart) || IsGHCR(s.Repository) && IsLocalPath(c.Chart)) && tok != "" && tok != DefaultGitHubToken {
		s.Password = tok
		if s.Username == "" {
			s.Username = GHCRUser
		}
	}
}

// IsLocalPath reports whether chart names a path (a directory or .tgz) rather than a chart in
// a repository: it has a path separator, is . or .., or ends in .tgz.
func IsLocalPath(chart string) bool {
	return strings.ContainsAny(chart, `/\`) || chart == "." || chart == ".." || strings.HasSuffix(chart, ".tgz")
}

// IsGHCR reports whether a chart reference (or a local chart's oci:// repository) is on
// GitHub's container registry.
func IsGHCR(chart string) bool {
	return chart == "oci://ghcr.io" || strings.HasPrefix(chart, "oci://ghcr.io/")
}

// validateSource reports the chart-source inputs' problems.
func (c Config) validateSource() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	s := c.Source
	if strings.HasPrefix(c.Chart, "http://") || strings.HasPrefix(c.Chart, "https://") {
		bad("%s: %q is a URL: for a Helm repository set %s to its URL and %s to the chart's name; for a registry use oci://REGISTRY/PATH/NAME", InChart, c.Chart, InChartRepo, InChart)
	}
	if s.Version != "" {
		if _, err := semver.NewVersion(s.Version); err != nil {
			if _, err := semver.NewConstraint(s.Version); err != nil {
				bad("%s: %q is neither a version nor a range (e.g. 1.4.2, ~1.4, >=1.2 <2)", InChartVersion, s.Version)
			}
		}
	}
	if s.Digest != "" && !digestRE.MatchString(s.Digest) {
		bad("%s: %q is not a digest (sha256: and 64 lowercase hex digits, as `helm push` prints it)", InChartDigest, s.Digest)
	}
	errs = append(errs, c.validateRepository()...)
	switch {
	case s.Username != "" && s.Password == "":
		bad("%s: given without %s (give both or neither)", InRegistryUser, InRegistryPass)
	case s.Username == "" && s.Password != "":
		bad("%s: given without %s (give both or neither)", InRegistryPass, InRegistryUser)
	}
	return errs
}

// validateRepository reports chart_repository's problems: not a URL, plain HTTP with
// credentials (sent in clear text), an OCI registry for anything but a local chart's
// dependencies, credentials both in the URL and in registry_username.
func (c Config) validateRepository() []error {
	s := c.Source
	if s.Repository == "" {
		return nil
	}
	u, err := url.Parse(s.Repository)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "oci") || u.Host == "":
		return []error{fmt.Errorf("%s: %q is not an http(s) URL (e.g. https://charts.example.com) or, for a local chart's dependencies, oci://REGISTRY", InChartRepo, RedactURLs(s.Repository))}
	case strings.HasPrefix(c.Chart, "oci://"):
		return []error{fmt.Errorf("%s: %s is an OCI chart; %s is for classic Helm repositories only", InChartRepo, InChart, InChartRepo)}
	case u.Scheme == "oci" && !IsLocalPath(c.Chart):
		return []error{fmt.Errorf("%s: %s is a registry: set %s to oci://%s/PATH/%s (%s oci:// only names the registry of a local chart's dependencies)", InChartRepo, RedactURLs(s.Repository), InChart, u.Host, c.Chart, InChartRepo)}
	case u.User != nil && u.Scheme == "oci":
		return []error{fmt.Errorf("%s: %s: give the registry's credentials in %s and %s, not in the URL", InChartRepo, RedactURLs(s.Repository), InRegistryUser, InRegistryPass)}
	case u.User != nil && s.Username != "":
		return []error{fmt.Errorf("%s: %s has credentials in its URL and %s is set too: give them once", InChartRepo, RedactURLs(s.Repository), InRegistryUser)}
	case u.Scheme == "http" && (u.User != nil || s.Password != ""):
		how := InRegistryUser + " and " + InRegistryPass
		if u.User != nil {
			how = "user info in the URL"
		}
		return []error{fmt.Errorf("%s: %s is plain HTTP: its credentials (%s) would cross the network in clear text; use https:// (refused before any request)", InChartRepo, RedactURLs(s.Repository), how)}
	}
	return nil
}
