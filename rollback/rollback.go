// Package rollback takes a release back to a known good revision and verifies it with the same
// fail-fast watcher that judged the bad one.
package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	helmrelease "helm.sh/helm/v3/pkg/release"

	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
)

// ErrNoGoodRevision means there is nothing to roll back to (e.g. a failed first install).
var ErrNoGoodRevision = errors.New("no earlier revision was deployed successfully")

// Helm is what a rollback needs of the Helm wrapper.
type Helm interface {
	History(name string) ([]*helmrelease.Release, error)
	Rollback(ctx context.Context, name string, revision int, description string) (*helmrelease.Release, error)
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
	Result      health.Result
	Duration    time.Duration
}

// Verified reports whether the rolled-back version came up healthy.
func (a Attempt) Verified() bool { return a.Result.Ready }

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
	names := make([]string, len(deps))
	for i, d := range deps {
		names[i] = d.Name
	}
	a.Result, err = r.Watcher.Watch(ctx, health.Target{Namespace: r.Namespace, Deployments: names, Since: start})
	a.Duration = now().Sub(start)
	return a, err
}
