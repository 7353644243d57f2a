// Package charts finds the chart a deploy installs, where teams keep it: a local directory or
// packaged .tgz (its dependencies built when missing or stale, as `helm dependency build`
// does), a chart in an OCI registry, or one in a classic Helm repository read through its
// index.yaml. Versions may be exact or semver ranges as Helm takes them; the resolved version
// and the chart's digest are returned for the record, and a pinned digest refuses any other
// chart. Everything goes through the Helm SDK (registry.Client, repo, downloader), with a work
// directory of its own that is removed afterwards: no helm binary, nothing in the runner's home.
package charts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/shepherd-deploy/shepherd/config"
)

// Source is where a chart is and how to reach it.
type Source struct {
	// Chart is a local path (directory or .tgz), oci://REGISTRY/PATH/NAME, or a chart's name in
	// Repository.
	Chart string
	// Version is an exact version or a semver range ("~1.4", ">=1.2 <2"); "" is the newest
	// release (no pre-releases).
	Version string
	// Repository is a Helm repository's URL (Chart is then a name in its index.yaml).
	Repository string
	// Username and Password authenticate to one host only: an oci:// chart's registry, the
	// repository's host (for a local chart's dependencies, Repository may be oci://HOST), or
	// the one registry a local chart's oci:// dependencies come from. Every other host is asked
	// anonymously. The password is secret: it appears in no error.
	Username, Password string
	// CA is a PEM bundle trusted beside the system's roots (a private registry's CA).
	CA []byte
	// Digest pins the chart ("sha256:…"): any other content is refused.
	Digest string
	// Timeout bounds each download attempt (default DefaultTimeout).
	Timeout time.Duration
	// Log receives what was done (dependencies built); nil discards it.
	Log func(format string, a ...any)
}

// DefaultTimeout bounds one download attempt.
const DefaultTimeout = 60 * time.Second

// Kind is where a chart comes from.
type Kind string

// Kinds.
const (
	Local      Kind = "local"
	OCI        Kind = "oci"
	Repository Kind = "repository"
)

// Resolved is the chart found and what identifies it.
type Resolved struct {
	Chart *chart.Chart
	Kind  Kind
	// Ref names the chart as a person would look for it again: the path, oci://…:VERSION, or
	// REPOSITORY_URL NAME VERSION.
	Ref string
	// Version is the chart's version (the one a range resolved to).
	Version string
	// Digest identifies the content, "sha256:…": an OCI chart's manifest digest (what `helm
	// push` and `helm pull` print, and what oci://…@sha256: pins), the archive's sha256 for a
	// repository chart or a .tgz (index.yaml's digest); "" for a chart directory.
	Digest string
	// Built lists the dependencies built for a local chart ("name version"), if any.
	Built []string
}

// Annotations the resolved chart's metadata carries into the release record, so that
// history shows where each revision's chart came from.
const (
	AnnotationSource = "shepherd.io/chart-source"
	AnnotationDigest = "shepherd.io/chart-digest"
)

// KindOf says where a chart reference points. With a repository, a path (it has a separator,
// or ends in .tgz) is still a local chart: the repository is where its dependencies come from.
func KindOf(chartRef, repository string) Kind {
	switch {
	case strings.HasPrefix(chartRef, "oci://"):
		return OCI
	case repository != "" && !config.IsLocalPath(chartRef):
		return Repository
	}
	return Local
}

// Resolve finds s's chart, checks it against s's pins and loads it. Every error names the
// input to change; none quotes a credential.
func Resolve(ctx context.Context, s Source) (*Resolved, error) {
	res, err := resolve(ctx, s)
	return res, redact(err, s)
}

func resolve(ctx context.Context, s Source) (*Resolved, error) {
	s, err := scoped(s)
	if err != nil {
		return nil, err
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Log == nil {
		s.Log = func(string, ...any) {}
	}
	w, err := newWork(ctx, s)
	if err != nil {
		return nil, err
	}
	defer w.close()
	var res *Resolved
	switch KindOf(s.Chart, s.Repository) {
	case OCI:
		res, err = w.oci(ctx)
	case Repository:
		res, err = w.repository(ctx)
	default:
		res, err = w.local(ctx)
	}
	if err != nil {
		return nil, err
	}
	if s.Digest != "" && res.Digest != s.Digest && !w.alsoMatches(s.Digest) {
		got := res.Digest
		if got == "" {
			got = "none (a chart directory has no digest; package it, or pull it from a registry)"
		}
		return nil, fmt.Errorf("%s: %s is %s, not the pinned %s: refused before anything was written", config.InChartDigest, res.Ref, got, s.Digest)
	}
	stamp(res)
	return res, nil
}

// stamp records the chart's source and digest in its metadata's annotations.
func stamp(res *Resolved) {
	md := res.Chart.Metadata
	if md == nil {
		return
	}
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	md.Annotations[AnnotationSource] = res.Ref
	if res.Digest != "" {
		md.Annotations[AnnotationDigest] = res.Digest
	}
	if c := ContentDigest(res.Chart); c != "" {
		md.Annotations[AnnotationContent] = c
	}
}

// digestOf is the sha256 digest of data, as "sha256:…".
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ValidVersion reports whether v is an exact version or a range Helm takes.
func ValidVersion(v string) error {
	if _, err := semver.NewVersion(v); err == nil {
		return nil
	}
	_, err := semver.NewConstraint(v)
	return err
}

// satisfies reports whether version meets want (exact or range; "" meets anything).
func satisfies(version, want string) bool {
	if want == "" || version == want {
		return true
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false
	}
	c, err := semver.NewConstraint(want)
	return err == nil && c.Check(v)
}

// newest lists up to n of versions (already newest first) for an error message.
func newest(versions []string, n int) string {
	if len(versions) == 0 {
		return "none"
	}
	if len(versions) > n {
		return strings.Join(versions[:n], ", ") + fmt.Sprintf(" (and %d older)", len(versions)-n)
	}
	return strings.Join(versions, ", ")
}

// errNoWorkDir is returned when the work directory cannot be made.
var errNoWorkDir = errors.New("charts: no work directory")

// work is one resolution's scratch space and clients.
type work struct {
	s   Source
	dir string
	net *network
	// extra is a second digest of the same content that a pin may name (an OCI chart's
	// archive digest beside its manifest digest).
	extra string
}

func newWork(ctx context.Context, s Source) (*work, error) {
	dir, err := os.MkdirTemp("", "shepherd-charts-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoWorkDir, err)
	}
	n, err := newNetwork(ctx, s, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &work{s: s, dir: dir, net: n}, nil
}

func (w *work) close() { os.RemoveAll(w.dir) }

func (w *work) alsoMatches(d string) bool { return w.extra != "" && d == w.extra }

// SourceOf reads back a Resolved.Ref (as recorded in AnnotationSource): the chart reference,
// repository and version to find the same chart again.
func SourceOf(ref string) (chartRef, repository, version string) {
	if f := strings.Fields(ref); len(f) == 3 && (strings.HasPrefix(f[0], "https://") || strings.HasPrefix(f[0], "http://")) {
		return f[1], f[0], f[2]
	}
	return ref, "", ""
}

// Same reports whether a and b are the same chart: name and version, and the recorded
// digests and content digests when both have one.
func Same(a, b *chart.Chart) bool {
	if a == nil || b == nil || a.Metadata == nil || b.Metadata == nil {
		return false
	}
	agree := func(key string) bool {
		x, y := a.Metadata.Annotations[key], b.Metadata.Annotations[key]
		return x == "" || y == "" || x == y
	}
	return a.Metadata.Name == b.Metadata.Name && a.Metadata.Version == b.Metadata.Version && agree(AnnotationDigest) && agree(AnnotationContent)
}
