package diagnose

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// now is the fixed "current time" of every test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ago is a Kubernetes timestamp d before now.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// agoPtr is ago as a pointer, for pod startTime.
func agoPtr(d time.Duration) *metav1.Time {
	t := ago(d)
	return &t
}

// podOpt changes a test pod.
type podOpt func(*corev1.Pod)

// newPod builds a pod named name in namespace "ns" with label app=web, one container "app" and
// phase Running, then applies opts.
func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:1"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// phase sets the pod phase.
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

// statuses sets the regular container statuses.
func statuses(cs ...corev1.ContainerStatus) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = cs }
}

// initStatuses sets the init container statuses (and adds matching init container specs).
func initStatuses(cs ...corev1.ContainerStatus) podOpt {
	return func(p *corev1.Pod) {
		p.Status.InitContainerStatuses = cs
		for _, s := range cs {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: s.Name, Image: "init:1"})
		}
	}
}

// containers replaces the container specs.
func containers(cs ...corev1.Container) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers = cs }
}

// ready sets the pod's Ready condition.
func ready(ok bool) podOpt {
	return func(p *corev1.Pod) {
		st := corev1.ConditionFalse
		if ok {
			st = corev1.ConditionTrue
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: st})
	}
}

// deleting marks the pod as being deleted.
func deleting() podOpt {
	return func(p *corev1.Pod) { p.DeletionTimestamp = agoPtr(time.Second) }
}

// started sets the pod's startTime d before now.
func started(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.Status.StartTime = agoPtr(d) }
}

// unschedulableFor adds PodScheduled=False/Unschedulable that transitioned d before now.
func unschedulableFor(d time.Duration, msg string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: msg, LastTransitionTime: ago(d),
		})
	}
}

// waiting is a status of a container waiting with reason.
func waiting(name, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Image: "web:1", State: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg},
	}}
}

// running is a status of a container running since d before now (zero d: no startedAt).
func running(name string, d time.Duration, isReady bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: name, Image: "web:1", Ready: isReady, Started: &isReady, State: corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{},
	}}
	if d != 0 {
		cs.State.Running.StartedAt = ago(d)
	}
	return cs
}

// lastTerminated gives a status a previous termination and restart count.
func lastTerminated(cs corev1.ContainerStatus, code int32, reason string, restarts int32) corev1.ContainerStatus {
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}
	cs.RestartCount = restarts
	return cs
}

// probe builds an HTTP readiness-style probe.
func probe(initialDelay, period, threshold int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}},
		InitialDelaySeconds: initialDelay, PeriodSeconds: period, FailureThreshold: threshold,
	}
}
