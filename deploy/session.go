package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
)

// begin is what every writing run does first: check the cluster answers, take the release's
// lock (waiting for a live run, taking over a dead one's), and bring a release left stuck by
// an interrupted run back to a state Helm accepts. It returns the function that frees the lock.
func (r *run) begin(ctx context.Context) (end func(), err error) {
	cs := r.d.Clients.Typed
	if err := r.reachable(ctx); err != nil {
		return nil, err
	}
	owner := r.cfg.Owner
	if owner == "" {
		owner = "shepherd"
	}
	lock, err := kube.Acquire(ctx, cs, r.cfg.Namespace, r.cfg.Release, owner, r.cfg.LockTimeout)
	if err != nil {
		return nil, err
	}
	r.lock = lock
	end = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := lock.Release(cctx); err != nil {
			r.event(cctx, "done", Warn, "could not free the release lock (it expires by itself in %s): %v", kube.LeaseDuration, err)
		}
	}
	if lock.TakenOver != "" {
		r.event(ctx, "lock", Warn, "took over the lock of an interrupted run (%s, last phase %q, revision %s)",
			lock.TakenOver, lock.TakenOverPhase, orDefault(lock.TakenOverRevision, "unknown"))
	}
	if err := r.recoverStuck(ctx); err != nil {
		end()
		return nil, err
	}
	if err := r.finishInterrupted(ctx); err != nil {
		end()
		return nil, err
	}
	return end, nil
}

// reachable checks that the cluster answers.
func (r *run) reachable(ctx context.Context) error {
	if _, err := r.d.Clients.Typed.Discovery().RESTClient().Get().AbsPath("/version").DoRaw(ctx); err != nil {
		return fmt.Errorf("the cluster at %s does not answer: %v", r.d.Clients.Config.Host, err)
	}
	return nil
}

// phase records what the run is doing on the lock, for the next run to read if this one dies.
func (r *run) phase(ctx context.Context, phase string, revision int) {
	if r.lock == nil {
		return
	}
	if err := r.lock.SetPhase(ctx, phase, revision); err != nil {
		r.d.Log.Debug("record phase", "err", err)
	}
}

// recoverStuck handles a release whose last revision is pending-install|upgrade|rollback
// ("another operation is in progress"). We hold the lock, so no live Shepherd run is working on
// it: the operation was interrupted. Mark it failed (history is never deleted) and go on.
func (r *run) recoverStuck(ctx context.Context) error {
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil || len(hist) == 0 {
		return err
	}
	last := hist[len(hist)-1]
	if !last.Info.Status.IsPending() {
		return nil
	}
	desc := fmt.Sprintf("Shepherd: recovered from %s left by an interrupted operation", last.Info.Status)
	if err := r.d.Helm.MarkFailed(r.cfg.Release, last.Version, desc); err != nil {
		return fmt.Errorf("recover release %s stuck in %s: %w", r.cfg.Release, last.Info.Status, kube.Explain(err))
	}
	r.out.Recovered = fmt.Sprintf("revision %d was stuck in %s (an interrupted operation); marked it failed and went on", last.Version, last.Info.Status)
	r.event(ctx, "recover", Warn, "%s", r.out.Recovered)
	return nil
}

// finishInterrupted undoes the work of a run that died mid-rollout: when the lock it left says
// it was deploying revision N and N is still the release's live revision, check N's rollout;
// if it is not healthy, roll back to the last good revision before it, as that run would have.
func (r *run) finishInterrupted(ctx context.Context) error {
	l := r.lock
	if l.TakenOver == "" || l.TakenOverPhase == "done" || l.TakenOverPhase == "starting" {
		return nil
	}
	rev, _ := strconv.Atoi(l.TakenOverRevision)
	hist, err := r.d.Helm.History(r.cfg.Release)
	if err != nil || len(hist) == 0 || rev == 0 {
		return err
	}
	last := hist[len(hist)-1]
	if last.Version != rev || last.Info.Status != helmrelease.StatusDeployed {
		return nil
	}
	deps, err := release.Deployments(last.Manifest)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	res, _ := r.watcher().Watch(wctx, health.Target{Namespace: r.cfg.Namespace, Deployments: names(deps)})
	cancel()
	if res.Ready {
		r.event(ctx, "recover", Info, "revision %d, left by the interrupted run, is healthy", rev)
		return nil
	}
	r.event(ctx, "recover", Warn, "revision %d, left mid-rollout by the interrupted run, is not healthy: finishing its rollback", rev)
	r.out.Revision = rev
	r.cleanup(ctx, time.Now(), &res, "", "")
	if r.out.Status == Failed {
		return fmt.Errorf("finishing the interrupted run's rollback: %s", r.out.Message)
	}
	r.out.Status, r.out.Revision = "", 0 // the rollback is done; this run goes on with its own work
	return nil
}

func revisions(hist []*helmrelease.Release) []Revision {
	out := make([]Revision, 0, len(hist))
	for _, h := range hist {
		rv := Revision{Revision: h.Version, Status: string(h.Info.Status), Description: h.Info.Description,
			Updated: h.Info.LastDeployed.Time}
		if h.Chart != nil && h.Chart.Metadata != nil {
			rv.Chart = h.Chart.Metadata.Name + "-" + h.Chart.Metadata.Version
			rv.AppVersion = h.Chart.Metadata.AppVersion
		}
		out = append(out, rv)
	}
	return out
}

func versions(hist []*helmrelease.Release) string {
	v := make([]string, len(hist))
	for i, h := range hist {
		v[i] = strconv.Itoa(h.Version)
	}
	return strings.Join(v, ", ")
}
