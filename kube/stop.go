package kube

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// AnnotationStopFor names the holder a stop request is for (its holder identity): a holder
// acts only on a request naming it.
const AnnotationStopFor = Prefix + "stop-requested-for"

// ErrHolderChanged means the release's lock changed hands since it was read: a request meant
// for the run that held it then is not written.
var ErrHolderChanged = errors.New("the release lock changed hands")

// RequestStop asks the run holding the release's lock — holder, as the caller read it — to
// stop: who asks (by) and why. The request names holder, and is written only while holder
// still holds the lock: an Update carrying the resourceVersion of the read that found holder,
// so a run that took the lock in between is never asked (ErrHolderChanged).
func RequestStop(ctx context.Context, cs kubernetes.Interface, ns, release, holder, by, reason string) error {
	leases := cs.CoordinationV1().Leases(ns)
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := leases.Get(ctx, LockName(release), metav1.GetOptions{})
		if err != nil {
			return Explain(err)
		}
		if h := ptr.Deref(cur.Spec.HolderIdentity, ""); holder == "" || h != holder {
			return fmt.Errorf("%w: the request was for %s, the lock is now held by %s", ErrHolderChanged, orUnknown(holder), orUnknown(h))
		}
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[AnnotationStopBy], cur.Annotations[AnnotationStopReason], cur.Annotations[AnnotationStopFor] = by, reason, holder
		_, err = leases.Update(ctx, cur, metav1.UpdateOptions{}) // conflicts unless unchanged since the Get
		if !apierrors.IsConflict(err) {
			return Explain(err)
		}
	}
	return fmt.Errorf("ask the holder of %s to stop: too many conflicts", LockName(release))
}

// StopRequest is the request to stop addressed to holder on the Lease, if there is one: who
// asked and why. A request naming another holder (written for the run that held the lock
// before) is not one to holder.
func (s *LeaseState) StopRequest(holder string) (by, reason string, ok bool) {
	by = s.Notes[AnnotationStopBy]
	if by == "" || holder == "" || s.Notes[AnnotationStopFor] != holder {
		return "", "", false
	}
	return by, s.Notes[AnnotationStopReason], true
}

// Holder is the identity this lock is held under.
func (l *Lock) Holder() string { return l.holder }
