package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// modulePath is the module the bench belongs to (and builds shepherd from).
const modulePath = "github.com/shepherd-deploy/shepherd"

// helmModule is the Helm module whose cmd/helm is the baseline; its version is the one go.mod
// pins, so the CLI and Shepherd's SDK are the same Helm.
const helmModule = "helm.sh/helm/v3"

// containsModule reports whether go.mod content declares modulePath.
func containsModule(gomod []byte) bool {
	for _, l := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" && f[1] == modulePath {
			return true
		}
	}
	return false
}

// buildShepherd builds the shepherd binary from the repository root into dir, as the e2e
// tests and the Dockerfile do.
func buildShepherd(ctx context.Context, root, dir string) (string, error) {
	t0 := time.Now()
	bin := filepath.Join(dir, "shepherd")
	if err := goCmd(ctx, root, []string{"CGO_ENABLED=0"}, "build", "-trimpath", "-o", bin, "."); err != nil {
		return "", fmt.Errorf("build shepherd: %w", err)
	}
	progress("built shepherd in %s", time.Since(t0).Round(time.Millisecond))
	return bin, nil
}

// helmTools is the module (a folder of this repository) that pins the anchor's helm CLI: its
// own go.mod and go.sum hold everything cmd/helm needs, so a fresh clone builds it with no
// manual step, as internal/testcluster/tools does for the control plane. Its Helm version is
// the one Shepherd's go.mod pins (TestAnchorPinMatchesShepherd).
const helmTools = "bench/tools"

// ensureHelm returns the helm CLI built from the pinned tools module, building it into the
// user cache dir (shepherd/bin/helm-<version>) the first time.
func ensureHelm(ctx context.Context, root string) (bin, version string, err error) {
	dir := filepath.Join(root, helmTools)
	out, err := goOutput(ctx, dir, "list", "-m", "-f", "{{.Version}}", helmModule)
	if err != nil {
		return "", "", fmt.Errorf("find the pinned Helm version: %w", err)
	}
	version = strings.TrimSpace(out)
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", fmt.Errorf("no cache directory for the helm CLI: %w", err)
	}
	bin = filepath.Join(cache, "shepherd", "bin", "helm-"+version)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		progress("helm %s: %s (cached)", version, bin)
		return bin, version, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", "", err
	}
	t0 := time.Now()
	progress("building helm %s from %s (once; cached at %s)", version, helmTools, bin)
	tmp := fmt.Sprintf("%s.tmp-%d", bin, os.Getpid())
	defer os.Remove(tmp)
	ldflags := "-X " + helmModule + "/internal/version.version=" + version
	if err := goCmd(ctx, dir, []string{"CGO_ENABLED=0"}, "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, helmModule+"/cmd/helm"); err != nil {
		return "", "", fmt.Errorf("build helm: %w", err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", "", err
	}
	progress("built helm %s in %s", version, time.Since(t0).Round(time.Second))
	return bin, version, nil
}

// goCmd runs the go command in dir with extra environment; its output is in the error.
func goCmd(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// goOutput runs the go command in dir and returns its standard output.
func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}
