package diagnose

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Budgets are how long a pod may stay in a state that is normal for a while but fatal if it
// persists, before PodSignal reports it.
type Budgets struct {
	// Unschedulable is how long a pod may stay unschedulable (PodScheduled=False, reason
	// Unschedulable), measured from the condition's lastTransitionTime. Zero or less reports it
	// as soon as it is seen.
	Unschedulable time.Duration
	// NotReady is how long a running container may stay not ready, measured from when it
	// started. Zero or less derives the budget from the container's probes (see PodSignal).
	NotReady time.Duration
}

// DefaultBudgets returns the budgets Shepherd uses: 10s unschedulable, and a not-ready budget
// derived from each container's readiness probe.
func DefaultBudgets() Budgets {
	return Budgets{Unschedulable: 10 * time.Second}
}

// Kubernetes' probe defaults, applied when a field is zero (objects from the API server have
// them filled in already; hand-built ones may not).
const (
	defaultProbePeriod    = 10 * time.Second
	defaultProbeThreshold = 3
	// probeSlack is added to a probe-derived budget so one slow probe does not fail a rollout.
	probeSlack = 5 * time.Second
	// noProbeBudget is the not-ready budget of a container without a readiness probe.
	noProbeBudget = 30 * time.Second
)

// PodSignal reports whether pod p shows a rollout failure at time now. The rules, in order,
// first match wins; init containers are checked before regular ones:
//
//   - a container waiting with ErrImagePull, ImagePullBackOff or InvalidImageName: ImagePull;
//   - a container waiting with CrashLoopBackOff: CrashLoop (reason OOMKilled if the previous
//     container was OOMKilled); a container whose current or last termination is OOMKilled:
//     CrashLoop with reason OOMKilled;
//   - a container waiting with CreateContainerConfigError or CreateContainerError: Config;
//   - PodScheduled=False with reason Unschedulable for longer than b.Unschedulable: Capacity
//     (reason FailedScheduling, message the scheduler's, e.g. "0/1 nodes are available: 1
//     Insufficient cpu.");
//   - a Running pod with a running container that has not been ready for longer than the
//     not-ready budget: Probe (reason Unhealthy).
//
// The not-ready budget is b.NotReady if positive; otherwise initialDelaySeconds +
// periodSeconds*failureThreshold of the container's readiness probe (Kubernetes defaults
// 0, 10 and 3) plus 5s, or 30s without a readiness probe. A startup probe's own
// initialDelaySeconds + periodSeconds*failureThreshold is added to a derived budget, since
// readiness is not probed until the container has started. It is measured from the
// container's state.running.startedAt, else the pod's startTime.
//
// Pods that are being deleted never signal: old pods of a rollout go not-ready on purpose.
func PodSignal(p *corev1.Pod, now time.Time, b Budgets) (Signal, bool) {
	if p == nil || p.DeletionTimestamp != nil {
		return Signal{}, false
	}
	statuses := make([]corev1.ContainerStatus, 0, len(p.Status.InitContainerStatuses)+len(p.Status.ContainerStatuses))
	statuses = append(statuses, p.Status.InitContainerStatuses...)
	statuses = append(statuses, p.Status.ContainerStatuses...)
	obj := "Pod/" + p.Name

	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName":
				return Signal{Category: ImagePull, Object: obj, Reason: w.Reason, Message: w.Message}, true
			}
		}
	}
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
				return oomSignal(obj, cs, t), true
			}
			return Signal{Category: CrashLoop, Object: obj, Reason: w.Reason, Message: w.Message}, true
		}
	}
	for _, cs := range statuses {
		for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if t != nil && t.Reason == "OOMKilled" {
				return oomSignal(obj, cs, t), true
			}
		}
	}
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "CreateContainerConfigError", "CreateContainerError":
				return Signal{Category: Config, Object: obj, Reason: w.Reason, Message: w.Message}, true
			}
		}
	}
	if s, ok := unschedulable(p, obj, now, b.Unschedulable); ok {
		return s, true
	}
	if p.Status.Phase == corev1.PodRunning {
		if s, ok := notReady(p, obj, now, b.NotReady); ok {
			return s, true
		}
	}
	return Signal{}, false
}

// oomSignal describes a container killed for exceeding its memory limit.
func oomSignal(obj string, cs corev1.ContainerStatus, t *corev1.ContainerStateTerminated) Signal {
	msg := t.Message
	if msg == "" {
		msg = fmt.Sprintf("container %q was OOMKilled (exit code %d, %d restarts)", cs.Name, t.ExitCode, cs.RestartCount)
	}
	return Signal{Category: CrashLoop, Object: obj, Reason: "OOMKilled", Message: msg}
}

// unschedulable reports a pod that has been unschedulable for longer than budget.
func unschedulable(p *corev1.Pod, obj string, now time.Time, budget time.Duration) (Signal, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable {
			continue
		}
		since := c.LastTransitionTime.Time
		if since.IsZero() {
			since = p.CreationTimestamp.Time
		}
		if budget > 0 && (since.IsZero() || now.Sub(since) <= budget) {
			return Signal{}, false
		}
		return Signal{Category: Capacity, Object: obj, Reason: "FailedScheduling", Message: c.Message}, true
	}
	return Signal{}, false
}

// notReady reports a running container that has not been ready for longer than its budget.
func notReady(p *corev1.Pod, obj string, now time.Time, fixed time.Duration) (Signal, bool) {
	specs := make(map[string]*corev1.Container, len(p.Spec.InitContainers)+len(p.Spec.Containers))
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			specs[list[i].Name] = &list[i]
		}
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.Ready || cs.State.Running == nil {
				continue
			}
			since := cs.State.Running.StartedAt.Time
			if since.IsZero() && p.Status.StartTime != nil {
				since = p.Status.StartTime.Time
			}
			if since.IsZero() {
				continue
			}
			budget, probed := fixed, true
			if budget <= 0 {
				budget, probed = probeBudget(specs[cs.Name])
			}
			elapsed := now.Sub(since)
			if elapsed <= budget {
				continue
			}
			what := "without passing its readiness probe"
			if !probed {
				what = "without becoming ready"
			}
			msg := fmt.Sprintf("container %q has been running for %s %s (budget %s)",
				cs.Name, elapsed.Round(time.Second), what, budget.Round(time.Second))
			return Signal{Category: Probe, Object: obj, Reason: "Unhealthy", Message: msg}, true
		}
	}
	return Signal{}, false
}

// probeBudget derives a container's not-ready budget from its probes, and reports whether it
// has a readiness probe at all. A nil container (no spec found) gets the no-probe budget.
func probeBudget(c *corev1.Container) (time.Duration, bool) {
	if c == nil {
		return noProbeBudget, false
	}
	budget, probed := noProbeBudget, false
	if c.ReadinessProbe != nil {
		budget, probed = probeWindow(c.ReadinessProbe)+probeSlack, true
	}
	if c.StartupProbe != nil {
		budget += probeWindow(c.StartupProbe)
	}
	return budget, probed
}

// probeWindow is how long a probe can keep failing before Kubernetes gives up on it:
// initialDelaySeconds + periodSeconds*failureThreshold, with Kubernetes' defaults for zeros.
func probeWindow(pr *corev1.Probe) time.Duration {
	period := time.Duration(pr.PeriodSeconds) * time.Second
	if period <= 0 {
		period = defaultProbePeriod
	}
	threshold := pr.FailureThreshold
	if threshold <= 0 {
		threshold = defaultProbeThreshold
	}
	return time.Duration(pr.InitialDelaySeconds)*time.Second + period*time.Duration(threshold)
}
