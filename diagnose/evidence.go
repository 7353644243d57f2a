package diagnose

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/util/podutils"
)

// podEvidence records a pod's state and, for crashed containers, their previous logs.
func (c Collector) podEvidence(ctx context.Context, p *corev1.Pod) PodEvidence {
	ev := PodEvidence{Name: p.Name, Phase: string(p.Status.Phase), Ready: podutils.IsPodReady(p)}
	initStatus := statusByName(p.Status.InitContainerStatuses)
	for _, ctr := range p.Spec.InitContainers {
		cs, ok := initStatus[ctr.Name]
		if !ok || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0) {
			continue // not started yet, or completed: not evidence
		}
		ev.Containers = append(ev.Containers, c.containerEvidence(ctx, p, ctr, &cs))
	}
	status := statusByName(p.Status.ContainerStatuses)
	for _, ctr := range p.Spec.Containers {
		var csp *corev1.ContainerStatus
		if cs, ok := status[ctr.Name]; ok {
			csp = &cs
		}
		ev.Containers = append(ev.Containers, c.containerEvidence(ctx, p, ctr, csp))
	}
	return ev
}

// statusByName indexes container statuses by container name.
func statusByName(list []corev1.ContainerStatus) map[string]corev1.ContainerStatus {
	m := make(map[string]corev1.ContainerStatus, len(list))
	for _, cs := range list {
		m[cs.Name] = cs
	}
	return m
}

// containerEvidence records one container's state; cs is nil when the kubelet has not
// reported the container yet.
func (c Collector) containerEvidence(ctx context.Context, p *corev1.Pod, ctr corev1.Container, cs *corev1.ContainerStatus) ContainerEvidence {
	ev := ContainerEvidence{Name: ctr.Name, Image: ctr.Image}
	if cs == nil {
		return ev
	}
	if ev.Image == "" {
		ev.Image = cs.Image
	}
	ev.Ready = cs.Ready
	ev.Restarts = cs.RestartCount
	switch s := cs.State; {
	case s.Waiting != nil:
		ev.State, ev.Reason, ev.Message = "waiting", s.Waiting.Reason, s.Waiting.Message
	case s.Running != nil:
		ev.State = "running"
	case s.Terminated != nil:
		ev.State, ev.Reason, ev.Message = "terminated", s.Terminated.Reason, s.Terminated.Message
		code := s.Terminated.ExitCode
		ev.ExitCode = &code
	}
	if last := cs.LastTerminationState.Terminated; last != nil {
		if ev.ExitCode == nil {
			code := last.ExitCode
			ev.ExitCode = &code
		}
		ev.LastTerminated = describeTermination(last)
	}
	if crashed(cs) {
		ev.PreviousLogs = c.previousLogs(ctx, p, ctr.Name)
	}
	return ev
}

// describeTermination renders a termination as "OOMKilled", "exit 1 (Error)" or "exit 1".
func describeTermination(t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason == "OOMKilled":
		return "OOMKilled"
	case t.Reason != "":
		return fmt.Sprintf("exit %d (%s)", t.ExitCode, t.Reason)
	}
	return fmt.Sprintf("exit %d", t.ExitCode)
}

// crashed reports whether a container is crash-looping or its previous instance crashed, so
// that the previous instance's logs are worth fetching.
func crashed(cs *corev1.ContainerStatus) bool {
	if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
		return true
	}
	last := cs.LastTerminationState.Terminated
	return last != nil && (last.ExitCode != 0 || last.Reason == "OOMKilled")
}

// previousLogs fetches the last LogLines lines of a container's previous instance. Any error
// yields nil: missing logs must not fail a diagnosis.
func (c Collector) previousLogs(ctx context.Context, p *corev1.Pod, container string) []string {
	lines := c.LogLines
	if lines <= 0 {
		lines = defaultLogLines
	}
	limit := int64(maxLogBytes)
	raw, err := c.Client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container:  container,
		Previous:   true,
		TailLines:  &lines,
		LimitBytes: &limit,
	}).DoRaw(ctx)
	if err != nil {
		return nil
	}
	return splitLogs(string(raw), int(lines))
}

// splitLogs splits a log body into its last n lines, without the trailing empty line, each cut
// to maxLogLineLen bytes.
func splitLogs(body string, n int) []string {
	body = strings.TrimRight(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	if body == "" {
		return nil
	}
	out := strings.Split(body, "\n")
	if len(out) > n {
		out = out[len(out)-n:]
	}
	for i, l := range out {
		out[i] = truncate(l, maxLogLineLen)
	}
	return out
}

// pickEvents keeps the Warning events about the given pods and about any workload
// (ReplicaSet, Deployment, StatefulSet, DaemonSet), most recent first (ties by object, reason, message), at most maxEvents.
func pickEvents(events []corev1.Event, pods map[string]bool) []EventEvidence {
	var out []EventEvidence
	for i := range events {
		e := &events[i]
		if e.Type != corev1.EventTypeWarning {
			continue
		}
		switch o := e.InvolvedObject; {
		case o.Kind == "Pod" && pods[o.Name], o.Kind == "ReplicaSet", o.Kind == "Deployment", o.Kind == "StatefulSet", o.Kind == "DaemonSet":
		default:
			continue
		}
		out = append(out, EventEvidence{
			Object:   e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
			Type:     e.Type,
			Reason:   e.Reason,
			Message:  e.Message,
			Count:    eventCount(e),
			LastSeen: lastSeen(e),
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.LastSeen.Equal(b.LastSeen) {
			return a.LastSeen.After(b.LastSeen)
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.Message < b.Message
	})
	if len(out) > maxEvents {
		out = out[:maxEvents]
	}
	return out
}

// eventCount is how often an event occurred, from the legacy count or the event series.
func eventCount(e *corev1.Event) int32 {
	n := e.Count
	if e.Series != nil && e.Series.Count > n {
		n = e.Series.Count
	}
	if n < 1 {
		n = 1
	}
	return n
}

// lastSeen is when an event last occurred: the latest of its timestamps, falling back to its
// creation time.
func lastSeen(e *corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if e.EventTime.After(t) {
		t = e.EventTime.Time
	}
	if e.FirstTimestamp.After(t) {
		t = e.FirstTimestamp.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	return t.UTC()
}
