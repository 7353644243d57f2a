package testcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Pinned versions of everything the test cluster runs. They must agree with tools/go.mod
// (a unit test checks it); changing one changes the cache key, so the next run rebuilds.
const (
	KubernetesVersion = "v1.36.3"
	EtcdVersion       = "v3.6.8"
	KwokVersion       = "v0.8.0"
	// recipe changes whenever the way the binaries are built changes (flags, file set).
	recipe = "r1"
)

// Binaries names the executables (and kwok's CRD manifests) a cluster is started from.
type Binaries struct {
	Dir string // holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, crds/
}

// Path returns the absolute path of the named binary.
func (b Binaries) Path(name string) string { return filepath.Join(b.Dir, name) }

var binaryNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// kwokCRDs are the kwok CRD manifests (from the kwok module's kustomize/crd/bases) installed in
// every cluster: stages for failure simulation, logs for `kubectl logs [--previous]`,
// port-forwards for reaching pods that are not exposed.
var kwokCRDs = []string{"stages", "clusterlogs", "logs", "clusterportforwards", "portforwards"}

// CacheKey is the directory name the built binaries are cached under.
func CacheKey() string {
	return fmt.Sprintf("k8s-%s_etcd-%s_kwok-%s_%s", KubernetesVersion, EtcdVersion, KwokVersion, recipe)
}

// CacheDir returns where the binaries for this version set live under root; an empty root
// means the user cache dir (XDG_CACHE_HOME or ~/.cache) + shepherd/testcluster.
func CacheDir(root string) (string, error) {
	if root == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("testcluster: no cache directory: %w", err)
		}
		root = filepath.Join(base, "shepherd", "testcluster")
	}
	return filepath.Join(root, CacheKey()), nil
}

// BuildOptions configures EnsureBinaries.
type BuildOptions struct {
	// CacheRoot overrides the cache root (default: user cache dir + shepherd/testcluster).
	CacheRoot string
	// ToolsDir is the tools module (internal/testcluster/tools). Default: found next to this
	// source file or by walking up from the working directory.
	ToolsDir string
	// Progress receives human-readable progress lines; nil discards them.
	Progress io.Writer
}

// EnsureBinaries returns the cached binaries, building them first if the cache is empty.
// A build takes minutes (about 10 on a 2-core machine, cold); it runs once per machine and
// version set. Concurrent callers (parallel test packages) wait on a file lock.
func EnsureBinaries(ctx context.Context, o BuildOptions) (Binaries, error) {
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	dir, err := CacheDir(o.CacheRoot)
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Dir: dir}
	if b.complete() {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Binaries{}, err
	}
	unlock, err := lockFile(ctx, dir+".lock", out)
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if b.complete() { // another process built it while we waited
		return b, nil
	}
	tools := o.ToolsDir
	if tools == "" {
		if tools, err = findToolsDir(); err != nil {
			return Binaries{}, err
		}
	}
	start := time.Now()
	fmt.Fprintf(out, "testcluster: building cluster binaries %s into %s (first run on this machine; takes several minutes)\n", CacheKey(), dir)
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := build(ctx, tools, tmp, out); err != nil {
		return Binaries{}, err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return Binaries{}, err
	}
	fmt.Fprintf(out, "testcluster: binaries ready in %s\n", time.Since(start).Round(time.Second))
	return b, nil
}

func (b Binaries) complete() bool {
	for _, n := range binaryNames {
		if fi, err := os.Stat(b.Path(n)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	for _, c := range kwokCRDs {
		if _, err := os.Stat(b.crdPath(c)); err != nil {
			return false
		}
	}
	return true
}

func (b Binaries) crdPath(name string) string {
	return filepath.Join(b.Dir, "crds", "kwok.x-k8s.io_"+name+".yaml")
}

func build(ctx context.Context, tools, out string, progress io.Writer) error {
	if err := os.MkdirAll(filepath.Join(out, "crds"), 0o755); err != nil {
		return err
	}
	minor := strings.Split(strings.TrimPrefix(KubernetesVersion, "v"), ".")[1]
	var ld []string
	for _, p := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		// Without the stamp the servers report v0.0.0-master, which Helm cannot parse.
		ld = append(ld, "-X", p+".gitVersion="+KubernetesVersion, "-X", p+".gitMajor=1", "-X", p+".gitMinor="+minor,
			"-X", p+".gitTreeState=clean", "-X", p+".buildDate=1970-01-01T00:00:00Z")
	}
	ldflags := "-s -w " + strings.Join(ld, " ")
	steps := []struct {
		what string
		dir  string
		env  []string
		args []string
	}{
		{"download modules", tools, nil, []string{"mod", "download"}},
		{"kube-apiserver, kube-controller-manager, kube-scheduler", tools, nil, []string{"build", "-trimpath", "-ldflags=" + ldflags, "-o", out + "/",
			"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager", "k8s.io/kubernetes/cmd/kube-scheduler"}},
		{"etcd " + EtcdVersion, tools, nil, []string{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(out, "etcd"), "./cmd/etcd"}},
		{"kwok " + KwokVersion, out, []string{"GOBIN=" + out}, []string{"install", "-trimpath", "-ldflags=-s -w", "sigs.k8s.io/kwok/cmd/kwok@" + KwokVersion}},
	}
	for _, s := range steps {
		if err := runGo(ctx, s.what, s.dir, s.env, s.args, progress); err != nil {
			return err
		}
	}
	return copyKwokCRDs(ctx, filepath.Join(out, "crds"))
}

// runGo runs one go command, printing a heartbeat while it works so a cold build is not silent.
func runGo(ctx context.Context, what, dir string, env, args []string, progress io.Writer) error {
	start := time.Now()
	fmt.Fprintf(progress, "testcluster:   %s ...\n", what)
	cmd := exec.CommandContext(ctx, goBin(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly"}, env...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testcluster: %s: %w", what, err)
	}
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("testcluster: %s: %w\n%s", what, err, lastLines(stderr.String(), 30))
			}
			fmt.Fprintf(progress, "testcluster:   %s done in %s\n", what, time.Since(start).Round(time.Second))
			return nil
		case <-tick.C:
			fmt.Fprintf(progress, "testcluster:   %s still building (%s)\n", what, time.Since(start).Round(time.Second))
		}
	}
}

func copyKwokCRDs(ctx context.Context, dst string) error {
	cmd := exec.CommandContext(ctx, goBin(), "mod", "download", "-json", "sigs.k8s.io/kwok@"+KwokVersion)
	cmd.Dir = dst
	cmd.Env = append(os.Environ(), "GOWORK=off")
	raw, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("testcluster: locate kwok module: %w", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(raw, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("testcluster: locate kwok module: %v (%s)", err, raw)
	}
	for _, c := range kwokCRDs {
		name := "kwok.x-k8s.io_" + c + ".yaml"
		data, err := os.ReadFile(filepath.Join(mod.Dir, "kustomize", "crd", "bases", name))
		if err != nil {
			return fmt.Errorf("testcluster: kwok CRD: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// goBin is the go command on PATH, else the usual install location.
func goBin() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if fileExists("/usr/local/go/bin/go") {
		return "/usr/local/go/bin/go"
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// findToolsDir locates the tools module: next to this source file when built from a checkout,
// else by walking up from the working directory.
func findToolsDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		if d := filepath.Join(filepath.Dir(file), "tools"); fileExists(filepath.Join(d, "go.mod")) {
			return d, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if t := filepath.Join(d, "internal", "testcluster", "tools"); fileExists(filepath.Join(t, "go.mod")) {
			return t, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("testcluster: cannot find internal/testcluster/tools (run from a Shepherd checkout)")
		}
	}
}

// lockFile takes an exclusive flock on path, waiting (and saying so) while another process holds it.
func lockFile(ctx context.Context, path string, progress io.Writer) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		if !said {
			fmt.Fprintf(progress, "testcluster: waiting for another build (%s)\n", path)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
