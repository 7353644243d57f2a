//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// On a cluster without the Gateway API (this suite's has no CRDs of it), traffic_router
// gateway-api is refused before any write, naming the input and what to do; Helm's history
// keeps its one revision.
func TestGatewayAPIMissingIsRefused(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	if r := runAction(t, deployInputs(c, ns, "1.0.0", "strategy", "canary")); r.Exit != 0 {
		t.Fatalf("install: exit %d\n%s", r.Exit, r.Stdout)
	}
	r := runAction(t, deployInputs(c, ns, "2.0.0", "strategy", "canary", "traffic_router", "gateway-api", "http_route", "web"))
	want := "traffic_router: gateway-api needs the Gateway API's HTTPRoute (gateway.networking.k8s.io/v1), which this cluster does not serve"
	if r.Exit == 0 || !strings.Contains(r.Stdout, want) {
		t.Fatalf("exit %d, want the refusal %q\n%s", r.Exit, want, r.Stdout)
	}
	if r.Outputs["revision"] != "" && r.Outputs["revision"] != "1" {
		t.Errorf("revision %q after a refusal before any write", r.Outputs["revision"])
	}
	if got := len(history(t, c, ns, "web")); got != 1 {
		t.Errorf("Helm history has %d revisions after the refusal, want 1", got)
	}
}
