package testcluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var shared *Cluster

// Main is the TestMain of a package whose tests need the cluster: it builds the binaries if
// the cache is empty, starts one cluster for the whole package, runs the tests and stops the
// cluster. A cluster that cannot start fails the package: it is never a skip.
func Main(m *testing.M) {
	os.Exit(runMain(m, Options{}))
}

// MainWithDataPlane is Main with the data plane on: the example app's pods serve for real,
// traffic flows to their Services, and Prometheus scrapes them (Cluster.PrometheusURL).
func MainWithDataPlane(m *testing.M) {
	os.Exit(runMain(m, Options{DataPlane: true}))
}

func runMain(m *testing.M, o Options) int {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	bins, err := EnsureBinaries(ctx, BuildOptions{Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		return 1
	}
	o.Binaries = bins
	c, err := Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		return 1
	}
	defer c.Stop()
	fmt.Fprintf(os.Stderr, "testcluster: cluster usable in %s\n", c.StartupTime.Round(time.Millisecond))
	shared = c
	return m.Run()
}

// Current is the package's cluster started by Main, for code without a testing.TB (an
// Example); nil without one.
func Current() *Cluster { return shared }

// Shared returns the package's cluster started by Main.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if shared == nil {
		t.Fatal("testcluster: no cluster; call testcluster.Main from TestMain")
	}
	return shared
}

// NewNamespace creates a fresh namespace for the test and deletes it when the test ends.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, name)
	if len(name) > 40 {
		name = name[:40]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: strings.Trim(name, "-") + "-"}}
	got, err := c.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testcluster: create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Client.CoreV1().Namespaces().Delete(context.Background(), got.Name, metav1.DeleteOptions{})
	})
	// A namespace is usable once the controller-manager has made its default ServiceAccount:
	// until then every pod is refused.
	err = c.waitFor(context.Background(), 30*time.Second, "default ServiceAccount in "+got.Name, func(ctx context.Context) error {
		_, err := c.Client.CoreV1().ServiceAccounts(got.Name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	return got.Name
}

// Private starts a cluster of the test's own, as o says (its binaries found or built), stopped
// when the test ends: for a test that must disturb its control plane (stop or freeze it)
// without touching the tests that share the package's cluster.
func Private(t testing.TB, o Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins, err := EnsureBinaries(ctx, BuildOptions{})
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	o.Binaries = bins
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}
