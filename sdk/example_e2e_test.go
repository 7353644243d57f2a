//go:build e2e

package sdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/sdk"
)

// The examples run against the project's local control plane (make test starts it).
func TestMain(m *testing.M) { testcluster.Main(m) }

// phases collects the phases of a run's events, each once.
type phases struct{ seen []string }

func (p *phases) Event(_ context.Context, e outcome.Event) {
	if len(p.seen) == 0 || p.seen[len(p.seen)-1] != e.Phase {
		p.seen = append(p.seen, e.Phase)
	}
}

// A Go program deploys with the same engine as the action: a dry run first (rendered and
// checked by the API server, nothing written), then the deploy itself, with the events as
// they come and the outcome back. The cluster here is the project's local one.
func ExampleRun() {
	ctx := context.Background()
	c := testcluster.Current()
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "example-"}}, metav1.CreateOptions{})
	if err != nil {
		panic(err)
	}
	for { // the namespace is usable once it has its default ServiceAccount
		if _, err := c.Client.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	cfg := config.Default()
	cfg.Release, cfg.Namespace, cfg.Chart, cfg.ImageTag = "web", ns.Name, "../examples/chart", "1.0.0"
	cfg.Kubeconfig, cfg.Timeout = c.Kubeconfig, 2*time.Minute

	cfg.DryRun = true
	out := sdk.Run(ctx, cfg, sdk.Options{})
	fmt.Println(out.Status)

	cfg.DryRun = false
	events := &phases{}
	out = sdk.Run(ctx, cfg, sdk.Options{Events: events})
	fmt.Println(out.Status, out.Revision, len(events.seen) > 2)
	// Output:
	// dry-run
	// succeeded 1 true
}
