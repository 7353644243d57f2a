// Package diagnose recognises why a Kubernetes rollout is failing and gathers the evidence
// (pod and container states, Warning events, previous-container logs) that explains it.
//
// The signal functions (PodSignal, EventSignal, DeploymentSignal) are pure: they look at one
// object and, for time budgets, a caller-supplied now, so the rollout watcher can call them on
// every watch event to fail fast. Collector does the I/O once a rollout has failed.
package diagnose

import (
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Category is the fixed failure vocabulary. Its values are also the action's failure_reason
// output, so they must not change.
type Category string

// The failure categories.
const (
	// ImagePull: the image could not be pulled (missing tag, bad name, registry auth).
	ImagePull Category = "image-pull"
	// CrashLoop: a container keeps exiting after it starts, or was OOMKilled.
	CrashLoop Category = "crash-loop"
	// Probe: containers run but never pass their readiness probe.
	Probe Category = "probe"
	// Capacity: pods cannot be scheduled or created (node resources, taints, ResourceQuota).
	Capacity Category = "capacity"
	// Config: a container cannot be created because of its configuration (missing ConfigMap,
	// Secret or key).
	Config Category = "config"
	// Deadline: the Deployment made no progress within progressDeadlineSeconds.
	Deadline Category = "deadline"
	// HealthCheck: the rollout completed but the post-deploy health check failed.
	HealthCheck Category = "health-check"
	// Analysis: a canary's metrics (error rate, latency) failed their thresholds, had no
	// data, or could not be read.
	Analysis Category = "analysis"
)

// Signal is one piece of evidence that a rollout has failed, found in a single object.
type Signal struct {
	// Category is the kind of failure.
	Category Category `json:"category"`
	// Object is the object the signal was found in, as Kind/name: "Pod/web-abc12",
	// "ReplicaSet/web-5d4f", "Deployment/web".
	Object string `json:"object"`
	// Reason is the Kubernetes reason: ImagePullBackOff, CrashLoopBackOff, OOMKilled,
	// FailedScheduling, FailedCreate, Unhealthy, ProgressDeadlineExceeded,
	// CreateContainerConfigError and so on.
	Reason string `json:"reason"`
	// Message is the human-readable detail, usually Kubernetes' own message.
	Message string `json:"message"`
}

// EventSignal reports whether event e is, on its own, evidence of a failed rollout:
//
//   - reason Failed on a Pod, about pulling an image ("Failed to pull image", "ErrImagePull",
//     "pull access denied", or "not found"/"unauthorized" in a message about an image or a
//     pull): ImagePull;
//   - reason FailedCreate on a ReplicaSet whose message says "exceeded quota" or
//     "forbidden": Capacity.
//
// Everything else is not a signal by itself. In particular FailedScheduling is transient
// during surges (PodSignal reports persistent unschedulability) and Unhealthy is covered by
// PodSignal's not-ready budget. A Failed event such as `Error: configmap "x" not found` is not
// an image-pull failure; PodSignal reports it as Config from the container's state.
func EventSignal(e *corev1.Event) (Signal, bool) {
	if e == nil {
		return Signal{}, false
	}
	obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
	msg := strings.ToLower(e.Message)
	switch {
	case e.Reason == "Failed" && e.InvolvedObject.Kind == "Pod" && isPullFailure(msg):
		return Signal{Category: ImagePull, Object: obj, Reason: e.Reason, Message: e.Message}, true
	case e.Reason == "FailedCreate" && e.InvolvedObject.Kind == "ReplicaSet" &&
		(strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "forbidden")):
		return Signal{Category: Capacity, Object: obj, Reason: e.Reason, Message: e.Message}, true
	}
	return Signal{}, false
}

// isPullFailure reports whether a lower-cased Failed event message is about pulling an image.
func isPullFailure(msg string) bool {
	for _, s := range []string{"failed to pull image", "errimagepull", "imagepullbackoff", "pull access denied"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	aboutImage := strings.Contains(msg, "image") || strings.Contains(msg, "pull")
	return aboutImage && (strings.Contains(msg, "not found") || strings.Contains(msg, "unauthorized"))
}

// DeploymentSignal reports whether Deployment d's conditions show a failed rollout:
//
//   - ReplicaFailure=True (pods cannot be created, e.g. a ResourceQuota): Capacity with the
//     condition's reason and message;
//   - Progressing=False with reason ProgressDeadlineExceeded: Deadline.
//
// ReplicaFailure is checked first because it names the cause, where the deadline only says
// that time ran out. Conditions are ignored while the controller has not yet observed the
// Deployment's latest generation, as they then describe the previous rollout; and so is a
// condition last updated before since: the controller copies a ReplicaSet's ReplicaFailure to
// the Deployment and keeps it until that ReplicaSet clears it, so right after a rollback the
// failed version's quota refusal is still there (a zero since keeps every condition).
func DeploymentSignal(d *appsv1.Deployment, since time.Time) (Signal, bool) {
	if d == nil || d.Status.ObservedGeneration < d.Generation {
		return Signal{}, false
	}
	obj := "Deployment/" + d.Name
	current := func(c appsv1.DeploymentCondition) bool {
		at := c.LastUpdateTime.Time
		if at.IsZero() {
			at = c.LastTransitionTime.Time
		}
		return since.IsZero() || at.IsZero() || !at.Before(since) // no time: no way to call it old
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue && current(c) {
			return Signal{Category: Capacity, Object: obj, Reason: c.Reason, Message: c.Message}, true
		}
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" && current(c) {
			return Signal{Category: Deadline, Object: obj, Reason: c.Reason, Message: c.Message}, true
		}
	}
	return Signal{}, false
}
