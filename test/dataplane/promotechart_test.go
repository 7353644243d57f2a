//go:build e2e

package dataplane

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// TestPromotionDeploysWhatTheCanaryRan: a local chart with a dependency (built from the real
// registry) runs as a canary that awaits promotion; a template is then added to the chart
// directory — same name, same version, no archive digest. `mode: promote` refuses before any
// write, naming the content digest the canary ran and the one the directory now holds; with
// the chart put back, the promotion goes through and the added template never reaches the
// cluster. The Service keeps its 2 ready endpoints throughout.
func TestPromotionDeploysWhatTheCanaryRan(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	s := startChartServers(t, c)
	umbrella := s.umbrella(t)
	ns := c.NewNamespace(t)
	in := func(tag string, extra ...string) map[string]string {
		return canaryInputs(c, ns, tag, append([]string{"chart", umbrella, "image_tag_key", "example-app.image.tag",
			"set", "example-app.replicaCount=2", "interval", "4s", "prometheus_url", "",
			"registry_username", s.reg.User, "registry_password", s.reg.Password, "registry_ca", s.ca}, extra...)...)
	}
	if r := runAction(t, in("1.0.0")); r.Exit != 0 {
		t.Fatalf("install: exit %d\n%s", r.Exit, r.Stdout)
	}
	readyEndpoints(t, c, ns, "web", 2)
	sampler := c.SampleEndpoints(ns, "web")
	r := runAction(t, in("2.0.0", "auto_promote", "false"))
	wantOut(t, r, "status", "awaiting-promotion")
	tracksRouteTo(t, c, ns, "canary@2.0.0,stable@1.0.0")

	edit := filepath.Join(umbrella, "templates", "edited.yaml")
	if err := os.MkdirAll(filepath.Dir(edit), 0o755); err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: edited-after-the-canary\ndata:\n  a: b\n"
	if err := os.WriteFile(edit, []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	before := workloadState(t, c, ns)
	promote := in("2.0.0", "mode", "promote")
	r = runAction(t, promote)
	if r.Exit == 0 {
		t.Fatalf("a promotion of a chart edited since its canary succeeded\n%s", r.Stdout)
	}
	contains(t, "the refusal", r.Stdout, "the chart changed since the canary ran")
	if n := countContent(r.Stdout); n < 2 {
		t.Errorf("the refusal names %d content digests, want both\n%s", n, r.Stdout)
	}
	if after := workloadState(t, c, ns); after != before {
		t.Errorf("the refused promotion wrote:\nbefore %s\nafter  %s", before, after)
	}
	tracksRouteTo(t, c, ns, "canary@2.0.0,stable@1.0.0")

	if err := os.Remove(edit); err != nil {
		t.Fatal(err)
	}
	r = runAction(t, promote)
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("promote with the chart the canary ran: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	tracksRouteTo(t, c, ns, "stable@2.0.0")
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Get(t.Context(), "edited-after-the-canary", metav1.GetOptions{}); err == nil {
		t.Errorf("the template added after the canary reached the cluster")
	}
	atLeast(t, "a canary refused and then promoted", sampler.Stop(), 2)
}

var contentDigestRE = regexp.MustCompile(`with content (sha256:[0-9a-f]{64})`)

// countContent counts the distinct content digests a message names.
func countContent(s string) int {
	seen := map[string]bool{}
	for _, m := range contentDigestRE.FindAllStringSubmatch(s, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}
