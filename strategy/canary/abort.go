package canary

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

// Abort takes the canary out of service so that the Service never loses its last ready
// endpoint: the stable track goes back to its replicas and is watched Ready before the canary
// goes to zero. For a metric failure, traffic comes off the canary first, but only as far as
// the stable pods already Ready carry it: a canary Deployment goes to zero at once only where
// its stable twin has a Ready pod; elsewhere (the 100% stage) it waits for the stable track.
func (c *Cluster) Abort(ctx context.Context, f *strategy.Failure) error {
	if c.tr == nil { // the canary's revision was written but its tracks never planned (a refused apply)
		if err := c.loadTracks(f); err != nil {
			return err
		}
	}
	t := c.tr
	if f != nil && f.Metrics() {
		c.event(ctx, "stage", Error, "the canary failed its analysis (%s): taking it out of traffic", f.Result.Signals[0].Reason)
	}
	if err := c.state(ctx, kube.PhaseRollingBack, t.rev, t.notes(0)); err != nil {
		return err
	}
	if err := c.router().Reset(ctx, f != nil && f.Metrics()); err != nil {
		return err
	}
	for _, name := range t.names {
		c.restoreHPA(ctx, t, name)
	}
	c.dropCanaryConfig(ctx, t)
	return nil
}

// readyStable is each stable Deployment's Ready pods now.
func (c *Cluster) readyStable(ctx context.Context) (map[string]int32, error) {
	out := map[string]int32{}
	for _, name := range c.tr.names {
		d, err := c.typed().AppsV1().Deployments(c.ns()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, kube.Explain(err))
		}
		out[name] = d.Status.ReadyReplicas
	}
	return out, nil
}

// loadTracks plans the tracks of f's revision from Helm's record of it: a canary whose
// Deployment the cluster refused (a quota, an admission webhook) after Helm wrote the revision
// still has its stable track to restore.
func (c *Cluster) loadTracks(f *strategy.Failure) error {
	if f == nil || f.Revision == 0 {
		return fmt.Errorf("no canary revision to abort")
	}
	hist, err := c.s.History()
	if err != nil {
		return err
	}
	l, err := ReadTracks(release.ManifestOf(hist, f.Revision))
	if err != nil {
		return fmt.Errorf("cannot read revision %d's manifest: %w", f.Revision, err)
	}
	var n map[string]int
	if c.plan != nil {
		n = c.plan.replicas
	}
	c.tr, err = c.newTracks(f.Revision, l, n, c.cfg.Stages, routingOf(c.cfg))
	return err
}

// pinHPA holds the HPA that scales stable Deployment name at the stage's count: its
// minReplicas is set there, so the HPA does not scale the stable track back up between stages
// (it may still scale it further up under load: a smaller canary share, never a smaller
// capacity). A stage at 0 needs no pin: an HPA leaves a target at 0 alone. The promotion's Helm
// upgrade puts the chart's minimum back; an abort does (restoreHPA).
func (c *Cluster) pinHPA(ctx context.Context, t *tracks, name string, stable int) error {
	h, ok := t.hpas[name]
	if !ok || stable < 1 {
		return nil
	}
	patch := fmt.Sprintf(`{"spec":{"minReplicas":%d,"maxReplicas":%d}}`, stable, max(h.Max, stable))
	if _, err := c.typed().AutoscalingV2().HorizontalPodAutoscalers(c.ns()).Patch(ctx, h.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("hold HorizontalPodAutoscaler %s at the stage's %d: %w", h.Name, stable, kube.Explain(err))
	}
	return nil
}

// restoreHPA gives the HPA that scales stable Deployment name the chart's bounds back.
func (c *Cluster) restoreHPA(ctx context.Context, t *tracks, name string) {
	h, ok := t.hpas[name]
	if !ok {
		return
	}
	patch := fmt.Sprintf(`{"spec":{"minReplicas":%d,"maxReplicas":%d}}`, h.Min, h.Max)
	if _, err := c.typed().AutoscalingV2().HorizontalPodAutoscalers(c.ns()).Patch(ctx, h.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		c.event(ctx, "abort", Warn, "could not give HorizontalPodAutoscaler %s its bounds back (%d–%d): %v", h.Name, h.Min, h.Max, kube.Explain(err))
	}
}

// dropCanaryConfig deletes the canary's copies of config once it is at zero: an aborted canary
// leaves no trace of the new version's config.
func (c *Cluster) dropCanaryConfig(ctx context.Context, t *tracks) {
	cs, ns := c.typed(), c.ns()
	for _, k := range t.config {
		kind, name, _ := strings.Cut(k, "/")
		var err error
		if kind == "Secret" {
			err = cs.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
		} else {
			err = cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			c.event(ctx, "abort", Warn, "could not delete the canary's %s %s: %v", kind, name, kube.Explain(err))
		}
	}
}
