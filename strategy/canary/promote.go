package canary

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// A failed or interrupted promotion: at the last stage the canary serves (the stable track may
// be at zero), so it keeps serving until the stable track is verified at its full count. Helm
// would delete the canary's Deployments when it rolls back to a revision without them; a live
// helm.sh/resource-policy: keep stops that, and is taken off again once the canary is at zero.

const (
	helmPolicyAnnotation = "helm.sh/resource-policy"
	helmPolicyKeep       = "keep"
)

// RollBack rolls a failed promotion back through Helm as a rolling deploy is, the canary kept
// serving until the rollback is verified; then the canary goes to zero.
func (c *Cluster) RollBack(ctx context.Context, f *strategy.Failure) {
	var kept []string
	if c.tr != nil && f.Promoting {
		kept = c.keepCanaries(ctx, c.tr.canaryNames())
	}
	c.Cluster.RollBack(ctx, f)
	c.releaseKept(ctx, kept, c.out().Status == outcome.RolledBack)
}

// keepCanaries marks the canary Deployments that run pods so that a Helm rollback leaves them
// serving; it returns those it marked.
func (c *Cluster) keepCanaries(ctx context.Context, names []string) []string {
	var kept []string
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, helmPolicyAnnotation, helmPolicyKeep))
	for _, name := range names {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas == 0 {
			continue
		}
		if _, err := c.typed().AppsV1().Deployments(c.ns()).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			c.event(ctx, "rollback", Warn, "could not keep %s serving during the rollback: %v", name, kube.Explain(err))
			continue
		}
		kept = append(kept, name)
	}
	if len(kept) > 0 {
		c.event(ctx, "rollback", Info, "%s keeps serving until the stable track is verified at its count", strings.Join(kept, ", "))
	}
	return kept
}

// releaseKept takes the kept canaries to zero once the stable track is verified (verified),
// and lets Helm own them again; otherwise they keep serving, and the lock says so.
func (c *Cluster) releaseKept(ctx context.Context, kept []string, verified bool) {
	if len(kept) == 0 {
		return
	}
	if !verified {
		c.event(ctx, "rollback", Warn, "the stable track did not verify: %s keeps serving", strings.Join(kept, ", "))
		return
	}
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}},"spec":{"replicas":0}}`, helmPolicyAnnotation))
	for _, name := range kept {
		if _, err := c.typed().AppsV1().Deployments(c.ns()).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			c.event(ctx, "rollback", Warn, "%s stays up: %v", name, kube.Explain(err))
		}
	}
	c.event(ctx, "rollback", Info, "the stable track is verified: %s scaled to 0", strings.Join(kept, ", "))
}

// finishPromotion ends a promotion an interrupted run left once its stable track checked out:
// each stable Deployment at (at least) the count the stages were planned from, and Ready,
// before the canary goes to zero — never 0/0 called ready.
func (c *Cluster) finishPromotion(ctx context.Context, notes map[string]string, kept []string) error {
	want := parseReplicas(notes[NoteReplicas])
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	since := c.s.Clock().Now()
	for _, name := range names {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read %s: %w", name, kube.Explain(err))
		}
		if d.Spec.Replicas != nil && int(*d.Spec.Replicas) < want[name] {
			c.recovered(ctx, Warn, "the interrupted promotion left %s at %d of %d replicas: scaling it up before the canary goes", name, *d.Spec.Replicas, want[name])
			if err := c.scale(ctx, name, want[name]); err != nil {
				return err
			}
		}
	}
	res, err := c.s.Watch(ctx, release.Workloads{Deployments: names}, since)
	switch {
	case err != nil:
		return err
	case !res.Ready:
		return fmt.Errorf("the stable track (%s) is not ready at its count (%s): the canary keeps serving", strings.Join(names, ", "), res.Status)
	}
	c.releaseKept(ctx, kept, true)
	c.retireCanaries(ctx, notes)
	return nil
}

// KeepServing keeps the canary a promotion left (an interrupted run, who) serving now: a
// rollback of the promotion through Helm would delete it. The function it returns ends that
// promotion once its stable track checked out: the canary goes to zero when the stable track
// is Ready at its count; unfinished (the engine left work for the next run) keeps it serving.
func (m *Modes) KeepServing(ctx context.Context, who string) func(ctx context.Context, unfinished bool) error {
	c := NewCluster(m.Env, nil)
	var canaries []string
	for name := range parseReplicas(m.Notes[NoteReplicas]) {
		canaries = append(canaries, name+CanarySuffix)
	}
	kept := c.keepCanaries(ctx, canaries)
	return func(ctx context.Context, unfinished bool) error {
		if unfinished {
			c.releaseKept(ctx, kept, false)
			return nil
		}
		if err := c.finishPromotion(ctx, m.Notes, kept); err != nil {
			return fmt.Errorf("finishing the promotion %s left: %w", who, err)
		}
		return nil
	}
}
