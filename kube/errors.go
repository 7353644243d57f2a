package kube

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Explain turns a permission error into one that says what is missing and where to grant it;
// other errors pass through unchanged.
func Explain(err error) error {
	var se *apierrors.StatusError
	if err == nil || !errors.As(err, &se) || !apierrors.IsForbidden(err) {
		return err
	}
	return fmt.Errorf("missing permission: %s (grant it in the Role bound to this identity; examples/rbac.yaml lists everything Shepherd needs)", se.ErrStatus.Message)
}
