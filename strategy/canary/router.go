package canary

import (
	"context"
	"errors"

	"github.com/shepherd-deploy/shepherd/health"
)

// Router moves a canary's share of live traffic. The replica split (the canary's share is
// its share of the Ready pods) is the first; a Gateway API route, weighted exactly, is the
// next, behind the same three methods.
type Router interface {
	// SetWeight gives the canary percent of live traffic — as close as the router can — and
	// returns the share it really gets. A canary that does not become Ready is a *NotReady.
	SetWeight(ctx context.Context, percent int) (actual float64, err error)
	// Weight is the canary's share of live traffic now, in percent.
	Weight(ctx context.Context) (float64, error)
	// Reset sends all traffic back to the stable track, never leaving it without a Ready
	// endpoint; urgent (the canary's metrics failed) takes traffic off the canary as soon as
	// the stable track can carry it, before the stable track is back at full count.
	Reset(ctx context.Context, urgent bool) error
}

// NotReady is a canary that did not become Ready at a weight: the watch's result says why,
// and Err is the watch's own error, if it ended with one (a deadline, a cancellation).
type NotReady struct {
	Result health.Result
	Err    error
}

func (e *NotReady) Error() string {
	if e.Err != nil {
		return "watching the canary: " + e.Err.Error()
	}
	return "the canary did not become ready: " + e.Result.Status
}

// AsNotReady is err's watch result and the watch's own error when err is a NotReady.
func AsNotReady(err error) (health.Result, error, bool) {
	var nr *NotReady
	if errors.As(err, &nr) {
		return nr.Result, nr.Err, true
	}
	return health.Result{}, nil, false
}
