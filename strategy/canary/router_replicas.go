package canary

import (
	"context"
	"fmt"
	"math"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
)

// replicaRouter is the canary's first router: the canary's share of traffic is its share of
// the Ready pods behind the Service, so a weight is a replica split — the canary scaled up and
// watched Ready before the stable track comes down, capacity never below the stage's.
type replicaRouter struct{ c *Cluster }

var _ Router = replicaRouter{}

// SetWeight scales each Deployment's tracks to the split for percent (the stage's planned
// split when percent is a stage's weight).
func (rr replicaRouter) SetWeight(ctx context.Context, percent int) (float64, error) {
	c, t := rr.c, rr.c.tr
	splits, err := rr.c.canaryReady(ctx, percent)
	if err != nil {
		return 0, err
	}
	for _, name := range t.names {
		if err := c.pinHPA(ctx, t, name, splits[name].Stable); err != nil {
			return 0, err
		}
		if err := c.scale(ctx, name, splits[name].Stable); err != nil {
			return 0, err
		}
	}
	return splits[t.names[0]].Actual(), nil
}

// canaryReady scales each canary Deployment to its split for percent and watches the canary
// Ready (a *NotReady when it is not); the watch is kept for a diagnosis of the stage.
func (c *Cluster) canaryReady(ctx context.Context, percent int) (map[string]Split, error) {
	t := c.tr
	splits, err := t.splitsFor(percent)
	if err != nil {
		return nil, err
	}
	since := c.s.Clock().Now()
	for _, name := range t.names {
		if err := c.scale(ctx, name+CanarySuffix, splits[name].Canary); err != nil {
			return nil, err
		}
	}
	res, err := c.s.Watch(ctx, release.Workloads{Deployments: t.canaryNames()}, since)
	if err != nil || !res.Ready {
		return nil, &NotReady{Result: res, Err: err}
	}
	c.watched = res
	return splits, nil
}

// splitsFor is each Deployment's split for percent: the planned stage's, or planned now.
func (t *tracks) splitsFor(percent int) (map[string]Split, error) {
	out := map[string]Split{}
	for _, name := range t.names {
		for i, w := range t.stages {
			if w == percent {
				out[name] = t.splits[name][i]
			}
		}
		if _, ok := out[name]; ok {
			continue
		}
		s, err := t.plan([]int{percent}, t.n[name])
		if err != nil {
			return nil, err
		}
		out[name] = s[0]
	}
	return out, nil
}

// Weight is the canary's share of the first Deployment's Ready pods.
func (rr replicaRouter) Weight(ctx context.Context) (float64, error) {
	c, t := rr.c, rr.c.tr
	var ready [2]int32
	for i, name := range []string{t.names[0] + CanarySuffix, t.names[0]} {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", name, kube.Explain(err))
		}
		ready[i] = d.Status.ReadyReplicas
	}
	if ready[0]+ready[1] == 0 {
		return 0, nil
	}
	return math.Round(1000*float64(ready[0])/float64(ready[0]+ready[1])) / 10, nil
}

// Reset brings the stable track back to its replicas and watches it Ready before the canary
// goes to zero; urgent first takes each canary out whose stable twin already has Ready pods
// to carry its traffic (the 100% stage has none: there it waits too).
func (rr replicaRouter) Reset(ctx context.Context, urgent bool) error {
	c, t := rr.c, rr.c.tr
	ready, err := c.readyStable(ctx)
	if err != nil {
		return err
	}
	since := c.s.Clock().Now()
	var early []string // canaries taken out at once: their stable twin already serves
	for _, name := range t.names {
		if err := c.scale(ctx, name, max(t.restore[name], t.n[name], 1)); err != nil { // N: an HPA's count, too
			return err
		}
		if urgent && ready[name] > 0 {
			if err := c.scale(ctx, name+CanarySuffix, 0); err != nil {
				return err
			}
			early = append(early, fmt.Sprintf("%s (%d stable pods Ready serve meanwhile)", name+CanarySuffix, ready[name]))
		}
	}
	if len(early) > 0 {
		t.report.Weight = 0
		c.event(ctx, "abort", Info, "out of traffic at once: %s", strings.Join(early, ", "))
	}
	res, err := c.s.Watch(ctx, release.Workloads{Deployments: t.names}, since)
	switch {
	case err != nil:
		return err
	case !res.Ready:
		why := res.Status
		if len(res.Signals) > 0 { // what the watch saw, not only where the rollout stood
			why = res.Signals[0].Object + " " + res.Signals[0].Reason + ": " + res.Signals[0].Message + "; " + why
		}
		return fmt.Errorf("the stable track did not come back ready (%s); the canary keeps serving beside it", why)
	}
	for _, name := range t.canaryNames() {
		if err := c.scale(ctx, name, 0); err != nil {
			return err
		}
	}
	t.report.Weight = 0
	c.event(ctx, "abort", Info, "the stable track (%s) is Ready at full count (%s); then the canary went to 0: it serves 100%% again", strings.Join(t.names, ", "), res.Status)
	return nil
}
