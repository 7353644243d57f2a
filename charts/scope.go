package charts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Credentials are scoped to one host, the one the source names: an oci:// chart's registry;
// the repository's (https:// or, for a local chart's dependencies, oci://); for a local chart
// without a repository, the one registry its oci:// dependencies come from (several: refused,
// the repository must say which). Every other host — a dependency's registry or repository
// elsewhere, an archive URL an index.yaml points at — is reached without them, and plain
// http:// never carries them.

// scoped is s ready to resolve: the repository URL without user info (which becomes the
// credentials when none are given apart). A source whose credentials have no host to go to,
// or would go over plain HTTP, is refused before any request.
func scoped(s Source) (Source, error) {
	if s.Repository != "" {
		u, err := url.Parse(s.Repository)
		if err != nil || u.Host == "" {
			return s, fmt.Errorf("%s: %q is not a URL", config.InChartRepo, config.RedactURLs(s.Repository))
		}
		if u.User != nil {
			if s.Username != "" || s.Password != "" {
				return s, fmt.Errorf("%s: %s has credentials in its URL and %s is set too: give them once", config.InChartRepo, config.RedactURLs(s.Repository), config.InRegistryUser)
			}
			s.Username = u.User.Username()
			s.Password, _ = u.User.Password()
			u.User = nil
			s.Repository = u.String()
		}
	}
	if strings.HasPrefix(s.Repository, "oci://") && KindOf(s.Chart, s.Repository) == Repository {
		return s, fmt.Errorf("%s: %s is a registry: set %s to oci://%s/PATH/%s", config.InChartRepo, config.RedactURLs(s.Repository), config.InChart, strings.TrimPrefix(s.Repository, "oci://"), s.Chart)
	}
	if s.Username == "" && s.Password == "" || KindOf(s.Chart, s.Repository) == OCI {
		return s, nil
	}
	if s.Repository == "" {
		if hosts := dependencyRegistries(s.Chart); len(hosts) > 1 {
			return s, fmt.Errorf("%s: the chart's dependencies come from the registries %s: set %s to the one (oci://HOST) the credentials are for; the others are asked without them", config.InRegistryPass, strings.Join(hosts, ", "), config.InChartRepo)
		}
		return s, nil
	}
	if strings.HasPrefix(s.Repository, "http://") {
		return s, fmt.Errorf("%s: %s is plain HTTP: its credentials would cross the network in clear text; use https:// (refused before any request)", config.InChartRepo, s.Repository)
	}
	return s, nil
}

// credentialHost is the one host s's credentials go to ("" when there are none): an oci://
// chart's registry, else the repository's, else the one registry a local chart's oci://
// dependencies come from.
func credentialHost(s Source) string {
	if s.Username == "" && s.Password == "" {
		return ""
	}
	if KindOf(s.Chart, s.Repository) == OCI {
		_, host, _, _ := ociRef(s.Chart)
		return host
	}
	if u, err := url.Parse(s.Repository); err == nil && s.Repository != "" {
		return u.Host
	}
	if hosts := dependencyRegistries(s.Chart); len(hosts) == 1 {
		return hosts[0]
	}
	return ""
}

// dependencyRegistries lists the registries a local chart directory's Chart.yaml takes its
// oci:// dependencies from, sorted (none for a .tgz, which carries its dependencies).
func dependencyRegistries(dir string) []string {
	md, err := chartutil.LoadChartfile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, d := range md.Dependencies {
		if strings.HasPrefix(d.Repository, "oci://") {
			host, _, _ := strings.Cut(strings.TrimPrefix(d.Repository, "oci://"), "/")
			seen[strings.ToLower(host)] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// credential gives the registry client s's credentials for host only; every other registry
// is asked anonymously.
func credential(s Source, host string) auth.CredentialFunc {
	return func(_ context.Context, hostport string) (auth.Credential, error) {
		if host != "" && strings.EqualFold(hostport, host) {
			return auth.Credential{Username: s.Username, Password: s.Password}, nil
		}
		return auth.EmptyCredential, nil
	}
}

// redacted is an error as it leaves the package: no URL's user info or query secret, and not
// the password, anywhere in its text. It still unwraps to the original.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact scrubs err's text of s's credentials and of every URL's.
func redact(err error, s Source) error {
	if err == nil {
		return nil
	}
	var secrets []string
	if s.Password != "" {
		secrets = append(secrets, s.Password)
	}
	if u, perr := url.Parse(s.Repository); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	msg := diagnose.Redact(config.RedactURLs(err.Error()), secrets)
	var r *redacted
	if errors.As(err, &r) && msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}
