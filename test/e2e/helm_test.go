//go:build e2e

package e2e

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/kube"
)

func TestHelmInstallUpgradeRollback(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	cl, err := kube.New(c.Kubeconfig, "", ns)
	if err != nil {
		t.Fatal(err)
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(cl.Getter, ns, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	chrt, err := loader.Load("testdata/chart")
	if err != nil {
		t.Fatal(err)
	}
	img := func(tag string) map[string]any { return map[string]any{"image": map[string]any{"tag": tag}} }

	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.Wait, in.Timeout = "tiny", ns, true, time.Minute
	if _, err := in.Run(chrt, img("v1")); err != nil {
		t.Fatalf("install: %v", err)
	}
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Wait, up.Timeout = ns, true, time.Minute
	if _, err := up.Run("tiny", chrt, img("v2")); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	rb := action.NewRollback(cfg)
	rb.Version, rb.Wait, rb.Timeout = 1, true, time.Minute
	if err := rb.Run("tiny"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	hist, err := action.NewHistory(cfg).Run("tiny")
	if err != nil {
		t.Fatal(err)
	}
	want := []release.Status{release.StatusSuperseded, release.StatusSuperseded, release.StatusDeployed}
	if len(hist) != 3 {
		t.Fatalf("history has %d revisions, want 3", len(hist))
	}
	for i, r := range hist {
		if r.Version != i+1 || r.Info.Status != want[i] {
			t.Fatalf("revision %d: version %d status %s, want %s", i+1, r.Version, r.Info.Status, want[i])
		}
	}
	if hist[2].Info.Description != "Rollback to 1" || hist[2].Config["image"].(map[string]any)["tag"] != "v1" {
		t.Fatalf("revision 3 = %q %v, want a rollback to v1", hist[2].Info.Description, hist[2].Config)
	}
	d, err := c.Client.AppsV1().Deployments(ns).Get(t.Context(), "tiny", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "example.com/tiny:v1" {
		t.Fatalf("cluster runs %s after rollback, want example.com/tiny:v1", got)
	}
}
