package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The gateway the local cluster's traffic can go through: Traefik, a conformant Gateway API
// implementation built from the Go module proxy, and the Gateway API CRDs it serves.
//
// Traefik v3.7.x does not build from the proxy here: its module replaces a nested module by a
// directory the module's zip does not hold (pkg/config/dynamic/ext), and its dependencies take
// modules the proxy refuses (among them github.com/containous/go-http-auth at the version
// v3.7.13 pins). v3.6.12 builds (about 6 minutes cold on 2 cores), against Gateway API v1.4.
const (
	TraefikVersion    = "v3.6.12"
	GatewayAPIVersion = "v1.4.1"
	gatewayRecipe     = "r1"
)

// GatewayBinaries are the built gateway and the CRD manifests it needs.
type GatewayBinaries struct {
	Dir string // traefik, crds/*.yaml
}

// Traefik is the gateway's executable.
func (g GatewayBinaries) Traefik() string { return filepath.Join(g.Dir, "traefik") }

func (g GatewayBinaries) crds() string { return filepath.Join(g.Dir, "crds") }

func (g GatewayBinaries) complete() bool {
	fi, err := os.Stat(g.Traefik())
	if err != nil || fi.Mode()&0o111 == 0 {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(g.crds(), "*.yaml"))
	return len(m) > 0
}

// EnsureGateway returns the cached gateway, building it first when the cache is empty (once per
// machine and version; concurrent callers wait on a file lock).
func EnsureGateway(ctx context.Context, o BuildOptions) (GatewayBinaries, error) {
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	bins, err := CacheDir(o.CacheRoot)
	if err != nil {
		return GatewayBinaries{}, err
	}
	g := GatewayBinaries{Dir: filepath.Join(filepath.Dir(bins), fmt.Sprintf("gateway_traefik-%s_gwapi-%s_%s", TraefikVersion, GatewayAPIVersion, gatewayRecipe))}
	if g.complete() {
		return g, nil
	}
	if err := os.MkdirAll(filepath.Dir(g.Dir), 0o755); err != nil {
		return g, err
	}
	unlock, err := lockFile(ctx, g.Dir+".lock", out)
	if err != nil {
		return g, err
	}
	defer unlock()
	if g.complete() {
		return g, nil
	}
	start := time.Now()
	fmt.Fprintf(out, "testcluster: building Traefik %s into %s (first run on this machine; takes several minutes)\n", TraefikVersion, g.Dir)
	tmp := g.Dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := buildGateway(ctx, tmp, out); err != nil {
		return g, err
	}
	_ = os.RemoveAll(g.Dir)
	if err := os.Rename(tmp, g.Dir); err != nil {
		return g, err
	}
	fmt.Fprintf(out, "testcluster: gateway ready in %s\n", time.Since(start).Round(time.Second))
	return g, nil
}

// buildGateway builds Traefik as its own main module (its go.mod's replace directives apply
// only there): the module's source, copied out of the read-only module cache, built in place.
func buildGateway(ctx context.Context, dst string, progress io.Writer) error {
	if err := os.MkdirAll(filepath.Join(dst, "crds"), 0o755); err != nil {
		return err
	}
	src, err := moduleDir(ctx, dst, "github.com/traefik/traefik/v3@"+TraefikVersion)
	if err != nil {
		return err
	}
	work := filepath.Join(dst, "src")
	if err := copyTree(src, work); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := []string{"GOFLAGS=-mod=mod", "CGO_ENABLED=0"}
	if err := runGo(ctx, "traefik "+TraefikVersion, work, env, []string{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dst, "traefik"), "./cmd/traefik"}, progress); err != nil {
		return err
	}
	gw, err := moduleDir(ctx, dst, "sigs.k8s.io/gateway-api@"+GatewayAPIVersion)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(gw, "config", "crd", "standard", "*.yaml"))
	if len(files) == 0 {
		return fmt.Errorf("testcluster: no CRDs in gateway-api %s's config/crd/standard", GatewayAPIVersion)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, "crds", filepath.Base(f)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// moduleDir downloads module@version into the module cache and returns its directory.
func moduleDir(ctx context.Context, dir, modVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin(), "mod", "download", "-json", modVersion)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	raw, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(raw, &mod); err != nil || jerr != nil || mod.Dir == "" {
		return "", fmt.Errorf("testcluster: download %s: %v %s", modVersion, err, strings.TrimSpace(mod.Error))
	}
	return mod.Dir, nil
}

// copyTree copies a directory tree, files made writable (the module cache's are not).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
}
