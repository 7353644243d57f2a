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
	if s.Password == "" && IsGHCR(c.Chart) && tok != "" && tok != DefaultGitHubToken {
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

// IsGHCR reports whether a chart reference is on GitHub's container registry.
func IsGHCR(chart string) bool { return strings.HasPrefix(chart, "oci://ghcr.io/") }

// validateSource reports the chart-source inputs' problems.
func (c Config) validateSource() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	s := c.Source
	oci := strings.HasPrefix(c.Chart, "oci://")
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
	if s.Repository != "" {
		u, err := url.Parse(s.Repository)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			bad("%s: %q is not an http(s) URL (e.g. https://charts.example.com)", InChartRepo, redact(s.Repository))
		case oci:
			bad("%s: %s is an OCI chart; %s is for classic Helm repositories only", InChartRepo, InChart, InChartRepo)
		}
	}
	switch {
	case s.Username != "" && s.Password == "":
		bad("%s: given without %s (give both or neither)", InRegistryUser, InRegistryPass)
	case s.Username == "" && s.Password != "":
		bad("%s: given without %s (give both or neither)", InRegistryPass, InRegistryUser)
	}
	return errs
}

// redact drops a URL's user info.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
