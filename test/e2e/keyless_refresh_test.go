//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// GitHub's token service goes down for 20 s in the middle of a keyless canary, just as the
// job's token is due for renewal. The token service here is the cluster's local stand-in
// (internal/testcluster's OIDC: only a runner reaches GitHub's); the API server, the lock and
// the canary are real. The job's tokens live 90 s and are renewed a third of their life before
// they expire (60 s in), so the outage (58 s to 78 s) covers the renewal and ends while the
// token is still valid: the run keeps its token, renews it when the service is back, and never
// notices — it succeeds with no error or warning.
func TestKeylessTokenOutlivesTokenServiceOutage(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	bindEnvironment(t, c, ns, "production")
	grant := testcluster.Grant{Repository: keylessRepo, Environment: "production"}
	if r := runAction(t, keylessInputs(c, ns, "1.0.0"), c.OIDC.Runner(grant)...); r.Exit != 0 {
		t.Fatalf("keyless install: exit %d\n%s", r.Exit, r.Stdout)
	}

	grant.TTL = 90 * time.Second
	job := c.OIDC.Runner(grant)
	run := startAction(t, keylessInputs(c, ns, "2.0.0", "strategy", "canary", "stages", "25,50,100", "interval", "35s"), job...)
	for deadline := time.Now().Add(30 * time.Second); c.OIDC.Issued(job) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run never asked for its token:\n%s", run.log())
		}
	}
	first := time.Now()
	time.Sleep(time.Until(first.Add(58 * time.Second)))
	before := c.OIDC.Issued(job)
	c.OIDC.Outage(job, 20*time.Second)
	time.Sleep(20 * time.Second)
	refused := c.OIDC.Refused(job)
	if refused == 0 {
		t.Fatalf("no renewal fell in the outage (tokens issued before it: %d):\n%s", before, run.log())
	}
	r := run.wait(3 * time.Minute)
	t.Logf("tokens issued before the outage: %d; requests refused in it: %d; issued in all: %d", before, refused, c.OIDC.Issued(job))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("a 20 s outage of the token service, within the token's life, failed the run: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	if c.OIDC.Issued(job) <= before {
		t.Errorf("no token was issued after the outage: the run did not renew once the service was back")
	}
	for _, line := range strings.Split(r.Stdout, "\n") {
		if strings.Contains(line, "no prometheus_url") { // the one warning of a canary without metrics
			continue
		}
		for _, s := range []string{"token service", "OIDC token", "::error", "::warning", "lost the release lock"} {
			if strings.Contains(line, s) {
				t.Errorf("the run noticed the outage: %s", line)
			}
		}
	}
	serving(t, c, ns, "2.0.0")
}
