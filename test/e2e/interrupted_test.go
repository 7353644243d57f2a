//go:build e2e

package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// A run died (SIGKILL, a lost runner) mid-rollout of a bad revision: the release is "deployed"
// on it, and the run's lock says it was deploying it. The next run takes the expired lock
// over, reads that, finishes the rollback the dead run would have done, then does its own work.
func TestNextRunFinishesAnInterruptedRollout(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	install(t, c, ns, "1.0.0")
	// applied, not watched: what a run leaves when it is killed right after
	if err := helmUpgrade(t, c, ns, "1.1.0-crashloop", 0); err != nil {
		t.Fatal(err)
	}
	old := metav1.NewMicroTime(time.Now().Add(-2 * time.Minute))
	lease, err := c.Client.CoordinationV1().Leases(ns).Get(ctx, "shepherd-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease.Annotations["shepherd.io/phase"], lease.Annotations["shepherd.io/revision"] = "deploying", "2"
	lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("https://github.com/acme/web/actions/runs/777"),
		LeaseDurationSeconds: ptr.To[int32](30), AcquireTime: &old, RenewTime: &old}
	if _, err := c.Client.CoordinationV1().Leases(ns).Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	r := runAction(t, deployInputs(c, ns, "1.2.0"))
	want(t, "status", r.Outputs["status"], "succeeded")
	for _, s := range []string{"took over the lock of an interrupted run (https://github.com/acme/web/actions/runs/777, last phase \"deploying\", revision 2)",
		"revision 2, left mid-rollout by the interrupted run, is not healthy: finishing its rollback"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("the run does not say %q:\n%s", s, r.Stdout)
		}
	}
	// 2 marked failed, 3 = the finished rollback to 1, 4 = this run's own deploy
	wantHistory(t, c, ns, "1:superseded", "2:failed", "3:superseded", "4:deployed")
	serving(t, c, ns, "1.2.0")
}

// The API server goes away mid-watch and stays away: the watcher gives up after its bound
// with ErrAPILost instead of hanging to the rollout timeout.
func TestWatcherGivesUpWhenTheAPIStaysAway(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	create(t, c.Client, ns, deployment("web", "example.com/web:never-ready", 1))
	w := &health.Watcher{Client: c.Client, APILossBound: 3 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := w.Watch(ctx, health.Target{Namespace: ns, Deployments: []string{"web"}})
		done <- err
	}()
	time.Sleep(2 * time.Second) // the informers have synced and are watching
	c.StopAPIServer()
	defer func() {
		if err := c.StartAPIServer(context.Background()); err != nil {
			t.Fatal(err)
		}
	}()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, health.ErrAPILost) {
			t.Fatalf("Watch returned %v, want ErrAPILost", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("gave up %s after the API went away, bound 3s", d)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the watcher did not give up while the API stayed away")
	}
}
