// Package rollback takes a release back to a known good revision and verifies it with the same
// fail-fast watcher that judged the bad one.
package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
)

// ErrNoGoodRevision means there is nothing to roll back to (e.g. a failed first install).
var ErrNoGoodRevision = errors.New("no earlier revision was deployed successfully")

// Helm is what a rollback needs of the Helm wrapper.
type Helm interface {
	History(name string) ([]*helmrelease.Release, error)
	Rollback(ctx context.Context, name string, revision int, description string) (*helmrelease.Release, error)
	MarkFailed(name string, revision int, description string) error
}

// Watcher verifies a rollout.
type Watcher interface {
	Watch(ctx context.Context, t health.Target) (health.Result, error)
}

// Rollbacker rolls one namespace's releases back.
type Rollbacker struct {
	Helm      Helm
	Watcher   Watcher
	Namespace string
	Now       func() time.Time
	// AttemptTimeout bounds each attempt's rollout (the user's timeout); 0: only ctx.
	AttemptTimeout time.Duration
	// Replaces is the revision the cascade takes the release away from, marked failed with
	// ReplacesWhy once a rollback has been applied over it (and not before: until then it is
	// what the cluster serves); 0 marks nothing.
	Replaces    int
	ReplacesWhy string
	// Force, when set, runs after each rollback is applied and before it is watched: what the
	// revert alone cannot undo (a StatefulSet's forced rollback). It returns what it did.
	Force func(ctx context.Context, w release.Workloads) []string
	// NotAVersion tells a revision that is no version to roll back to (a canary's, which ran
	// beside the stable one), as the strategies that write such revisions know them; nil:
	// every revision is one.
	NotAVersion func(*helmrelease.Release) bool
}

// Attempt is one rollback and its verification.
type Attempt struct {
	Target      int // the good revision rolled back to
	NewRevision int // the revision the rollback created
	Workloads   release.Workloads
	Result      health.Result
	// Problem is why verification failed after the rollout completed (health check, a
	// restart in the verification window); nil when it passed.
	Problem *diagnose.Signal
	// Forced names the pods deleted so the revert could roll out (Force).
	Forced []string
	// Duration is how long the rollback took to roll out; Verify how long its verification took.
	Duration, Verify time.Duration
}

// Verified reports whether the rolled-back version came up healthy and stayed so.
func (a Attempt) Verified() bool { return a.Result.Ready && a.Problem == nil }

// Signals is the failure evidence of an unverified attempt.
func (a Attempt) Signals() []diagnose.Signal {
	if a.Problem != nil {
		return append([]diagnose.Signal{*a.Problem}, a.Result.Signals...)
	}
	return a.Result.Signals
}

// Verify checks a rolled-out attempt beyond the rollout (health URL, a steady window); it
// returns the problem, or nil.
type Verify func(ctx context.Context, a Attempt) *diagnose.Signal

// Cascade rolls release name back to target (0: the last good revision before current),
// verifies it, and while verification fails marks that rollback failed and tries the next
// older good revision, at most 1+maxCascade attempts. description(target) is recorded on each
// new revision. It returns every attempt, in order; the last one verified if any did.
func (r Rollbacker) Cascade(ctx context.Context, name string, current, target, maxCascade int, description func(target int) string, verify Verify) ([]Attempt, error) {
	var chain []Attempt
	before := current
	for i := 0; i <= maxCascade; i++ {
		if target == 0 {
			hist, err := r.Helm.History(name)
			if err != nil {
				return chain, err
			}
			good := release.LastGood(hist, before, r.NotAVersion)
			if good == nil {
				if len(chain) == 0 {
					return chain, ErrNoGoodRevision
				}
				return chain, nil
			}
			target = good.Version
		}
		a, err := r.To(ctx, name, target, description(target))
		if a.NewRevision > 0 && r.Replaces > 0 {
			if merr := r.Helm.MarkFailed(name, r.Replaces, truncate(r.ReplacesWhy, 200)); merr != nil && err == nil {
				err = fmt.Errorf("mark revision %d failed: %w", r.Replaces, merr)
			}
			r.Replaces = 0
		}
		if err == nil && a.Result.Ready && verify != nil {
			start := r.now()
			a.Problem = verify(ctx, a)
			a.Verify = r.now().Sub(start)
		}
		chain = append(chain, a)
		if err != nil || a.Verified() {
			return chain, err
		}
		if ctx.Err() != nil { // stopped: write nothing more
			return chain, context.Cause(ctx)
		}
		if a.NewRevision > 0 {
			why := "did not verify"
			if s := a.Signals(); len(s) > 0 {
				why = s[0].Reason + ": " + s[0].Message
			}
			_ = r.Helm.MarkFailed(name, a.NewRevision, truncate(fmt.Sprintf("Shepherd: rollback to %d failed verification: %s", target, why), 200))
		}
		before, target = target, 0
	}
	return chain, nil
}

func (r Rollbacker) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// ToLastGood rolls release name back to the newest good revision older than before, records
// description on the new revision, and watches it until it is complete, failed or ctx ends.
func (r Rollbacker) ToLastGood(ctx context.Context, name string, before int, description string) (Attempt, error) {
	hist, err := r.Helm.History(name)
	if err != nil {
		return Attempt{}, err
	}
	good := release.LastGood(hist, before, r.NotAVersion)
	if good == nil {
		return Attempt{}, ErrNoGoodRevision
	}
	return r.To(ctx, name, good.Version, description)
}

// To rolls release name back to revision and verifies it.
func (r Rollbacker) To(ctx context.Context, name string, revision int, description string) (Attempt, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	a := Attempt{Target: revision}
	if ctx.Err() != nil { // stopped (a second signal, the lock lost, the deadline): write nothing
		return a, context.Cause(ctx)
	}
	rel, err := r.Helm.Rollback(ctx, name, revision, description)
	if err != nil {
		return a, err
	}
	a.NewRevision = rel.Version
	a.Workloads, err = release.WorkloadsOf(rel.Manifest)
	if err != nil {
		return a, fmt.Errorf("rollback %s: read manifest: %w", name, err)
	}
	if r.Force != nil && len(a.Workloads.StatefulSets) > 0 {
		a.Forced = r.Force(ctx, a.Workloads)
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if r.AttemptTimeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, r.AttemptTimeout)
	}
	a.Result, err = r.Watcher.Watch(wctx, health.TargetFor(r.Namespace, a.Workloads, start))
	cancel()
	a.Duration = now().Sub(start)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		// This attempt's own bound passed: a verdict on the target, not a failed rollback.
		err = nil
		if len(a.Result.Signals) > 0 {
			msg := a.Result.Signals[0].Message
			if a.Result.Signals[0].Category == diagnose.Deadline {
				msg = a.Result.Status
			}
			a.Result.Signals[0].Message = fmt.Sprintf("not rolled out within timeout %s: %s", r.AttemptTimeout, msg)
		}
	}
	return a, err
}
