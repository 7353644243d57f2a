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
}

// Attempt is one rollback and its verification.
type Attempt struct {
	Target      int // the good revision rolled back to
	NewRevision int // the revision the rollback created
	Deployments []string
	Result      health.Result
	// Problem is why verification failed after the rollout completed (health check, a
	// restart in the verification window); nil when it passed.
	Problem  *diagnose.Signal
	Duration time.Duration
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
			good := release.LastGood(hist, before)
			if good == nil {
				if len(chain) == 0 {
					return chain, ErrNoGoodRevision
				}
				return chain, nil
			}
			target = good.Version
		}
		a, err := r.To(ctx, name, target, description(target))
		if err == nil && a.Result.Ready && verify != nil {
			a.Problem = verify(ctx, a)
		}
		chain = append(chain, a)
		if err != nil || a.Verified() {
			return chain, err
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
	good := release.LastGood(hist, before)
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
	rel, err := r.Helm.Rollback(ctx, name, revision, description)
	if err != nil {
		return a, err
	}
	a.NewRevision = rel.Version
	deps, err := release.Deployments(rel.Manifest)
	if err != nil {
		return a, fmt.Errorf("rollback %s: read manifest: %w", name, err)
	}
	for _, d := range deps {
		a.Deployments = append(a.Deployments, d.Name)
	}
	a.Result, err = r.Watcher.Watch(ctx, health.Target{Namespace: r.Namespace, Deployments: a.Deployments, Since: start})
	a.Duration = now().Sub(start)
	return a, err
}
