package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A cluster that cannot start says why, as an error: never a panic in its own cleanup (the
// failed step returns nil for the cluster, and the cleanup must not call it).
func TestStartFailureIsAnErrorWithItsCause(t *testing.T) {
	dir := t.TempDir()
	for _, n := range binaryNames {
		script := "#!/bin/sh\necho " + n + ": cannot start on purpose >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := Binaries{Dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "crds"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range kwokCRDs {
		if err := os.WriteFile(b.crdPath(c), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var c *Cluster
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Start panicked instead of returning its error: %v", p)
			}
		}()
		c, err = Start(ctx, Options{Binaries: b})
	}()
	if err == nil || c != nil {
		t.Fatalf("Start = %v, %v; want nil and an error", c, err)
	}
	if !strings.Contains(err.Error(), "etcd") {
		t.Errorf("the error does not name what failed to start: %v", err)
	}
}
