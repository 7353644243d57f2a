package diagnose

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Limits that keep a diagnosis short enough for a job summary.
const (
	maxPods         = 5
	maxEvents       = 20
	defaultLogLines = 20
	// maxLogBytes caps the previous-container log fetched per container.
	maxLogBytes = 64 << 10
	// maxLogLineLen caps one log line, in bytes.
	maxLogLineLen = 1000
	// maxSummaryLen caps the summary line, in bytes.
	maxSummaryLen = 400
)

// Diagnosis explains a failed rollout: what kind of failure, one line and one hint for
// humans, and the evidence behind them.
type Diagnosis struct {
	// Category is the primary signal's category ("" without signals).
	Category Category `json:"category"`
	// Summary is one line for an ::error annotation, e.g.
	// `Pod web-abc12: ImagePullBackOff (Back-off pulling image "x:bad-image")`.
	Summary string `json:"summary"`
	// Hint is the actionable sentence for the primary signal (see Hint).
	Hint string `json:"hint"`
	// Signals are the signals the diagnosis was built for, primary first.
	Signals []Signal `json:"signals,omitempty"`
	// Pods are the failing pods, at most 5, sorted by name.
	Pods []PodEvidence `json:"pods,omitempty"`
	// Events are Warning events of those pods and of the namespace's workloads (ReplicaSets,
	// Deployments, StatefulSets, DaemonSets), most recent first, at most 20.
	Events []EventEvidence `json:"events,omitempty"`
}

// PodEvidence is the state of one failing pod.
type PodEvidence struct {
	// Name is the pod's name.
	Name string `json:"name"`
	// Phase is the pod's phase: Pending, Running, Failed...
	Phase string `json:"phase"`
	// Ready is whether the pod's Ready condition is True.
	Ready bool `json:"ready"`
	// Containers are the init containers that have not completed successfully, then the
	// regular containers, in spec order.
	Containers []ContainerEvidence `json:"containers,omitempty"`
}

// ContainerEvidence is the state of one container of a failing pod.
type ContainerEvidence struct {
	// Name is the container's name.
	Name string `json:"name"`
	// Image is the image from the pod spec (what was deployed, not the resolved digest).
	Image string `json:"image"`
	// State is "waiting", "running", "terminated", or "" when the kubelet has not reported it.
	State string `json:"state,omitempty"`
	// Ready is whether the container passes its readiness probe.
	Ready bool `json:"ready"`
	// Reason is the current state's reason (ImagePullBackOff, CrashLoopBackOff...).
	Reason string `json:"reason,omitempty"`
	// Message is the current state's message.
	Message string `json:"message,omitempty"`
	// ExitCode is the exit code of the container's most recent termination: the current
	// state's if it is terminated, else the last state's; nil if it never terminated.
	ExitCode *int32 `json:"exit_code,omitempty"`
	// Restarts is the container's restart count.
	Restarts int32 `json:"restarts"`
	// LastTerminated describes the previous container's end: "exit 1 (Error)" or "OOMKilled".
	LastTerminated string `json:"last_terminated,omitempty"`
	// PreviousLogs are the last log lines of the previous container, for containers that
	// crashed; nil when not fetched or when fetching failed.
	PreviousLogs []string `json:"previous_logs,omitempty"`
}

// EventEvidence is one Warning event.
type EventEvidence struct {
	// Object is the event's object as Kind/name.
	Object string `json:"object"`
	// Type is the event type (Warning).
	Type string `json:"type"`
	// Reason is the event's reason: Failed, BackOff, FailedScheduling, FailedCreate...
	Reason string `json:"reason"`
	// Message is the event's message.
	Message string `json:"message"`
	// Count is how many times the event occurred.
	Count int32 `json:"count"`
	// LastSeen is when it last occurred.
	LastSeen time.Time `json:"last_seen"`
}

// Collector gathers evidence for failing pods.
type Collector struct {
	// Client is the cluster to read from.
	Client kubernetes.Interface
	// LogLines is how many log lines of a crashed container's previous instance to fetch
	// (default 20 when zero or less).
	LogLines int64
	// Secrets are values known to be secret (credentials of the kubeconfig, values set for
	// secret-looking keys): wherever they appear in the evidence — a log line, an event —
	// they are replaced by ***.
	Secrets []string
}

// Collect builds a Diagnosis for the given signals (the first is the primary one: it sets
// Category, Summary and Hint) from the pods matching selector in namespace: each failing pod's
// container states, the Warning events of those pods and of the namespace's ReplicaSets and
// Deployments (most recent first, at most 20), and for crash-looping containers the last
// LogLines log lines of the previous container. A log that cannot be fetched does not fail the
// diagnosis: that container just has no PreviousLogs.
//
// A pod is failing when it is not Ready or has a container waiting or terminated (an init
// container that exited 0 does not count); pods being deleted are skipped unless a signal names
// them. At most 5 pods are kept, those named by signals first, then by name; they are reported
// sorted by name. A nil selector matches every pod.
//
// The hint is Hint of the primary signal, unless that is a generic one and the evidence is more
// specific: a pod's ImagePullBackOff says nothing of why, its ErrImagePull state or Failed
// event does ("not found", "unauthorized"). If listing pods or events fails, Collect
// returns the error together with a Diagnosis that still holds Category, Summary, Hint,
// Signals and whatever evidence it did gather.
func (c Collector) Collect(ctx context.Context, namespace string, selector labels.Selector, signals []Signal) (Diagnosis, error) {
	d, err := c.collect(ctx, namespace, selector, Diagnosis{Signals: signals})
	if len(signals) > 0 {
		d.Category = signals[0].Category
		d.Summary = Summarize(signals[0])
		d.Hint = bestHint(signals[0], evidenceMessages(d))
		if d.Hint == hintCrash && !hasLogs(d) {
			d.Hint = hintCrashNoLogs // no "below" to point at
		}
	}
	if r := masker(c.Secrets); r != nil {
		d = Scrubbed(d, r.Replace)
	}
	return d, err
}

// collect adds the pods and events to d.
func (c Collector) collect(ctx context.Context, namespace string, selector labels.Selector, d Diagnosis) (Diagnosis, error) {
	signals := d.Signals
	if c.Client == nil {
		return d, errors.New("diagnose: Collector has no Client")
	}
	if selector == nil {
		selector = labels.Everything()
	}
	named := make(map[string]bool)
	for _, s := range signals {
		if name, ok := strings.CutPrefix(s.Object, "Pod/"); ok {
			named[name] = true
		}
	}

	var errs []error
	list, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		errs = append(errs, fmt.Errorf("list pods in %q: %w", namespace, err))
	} else {
		for _, p := range pickPods(list.Items, named) {
			d.Pods = append(d.Pods, c.podEvidence(ctx, p))
		}
	}
	podNames := make(map[string]bool, len(named)+len(d.Pods))
	for name := range named {
		podNames[name] = true
	}
	for _, p := range d.Pods {
		podNames[p.Name] = true
	}
	events, err := c.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "type=" + corev1.EventTypeWarning})
	if err != nil {
		errs = append(errs, fmt.Errorf("list events in %q: %w", namespace, err))
	} else {
		d.Events = pickEvents(events.Items, podNames)
	}
	return d, errors.Join(errs...)
}

// evidenceMessages lists the messages that may say more than the primary signal does: the
// other signals of its category, the failing containers' state messages and last
// terminations, and the events about the failing pods and the signals' objects.
func evidenceMessages(d Diagnosis) []string {
	var out []string
	objects := make(map[string]bool)
	for i, s := range d.Signals {
		objects[s.Object] = true
		if i > 0 && s.Category == d.Signals[0].Category {
			out = append(out, s.Message)
		}
	}
	for _, p := range d.Pods {
		objects["Pod/"+p.Name] = true
		for _, ctr := range p.Containers {
			out = append(out, ctr.Message, ctr.LastTerminated)
		}
	}
	for _, e := range d.Events {
		if objects[e.Object] {
			out = append(out, e.Message)
		}
	}
	return out
}

// Summarize renders a signal as one line: `Pod web-abc12: ImagePullBackOff (Back-off pulling
// image "x:bad-image")`. Whitespace runs (newlines included) become one space and overlong
// messages are cut with "…".
func Summarize(s Signal) string {
	obj := s.Object
	if kind, name, ok := strings.Cut(obj, "/"); ok && isKind(kind) {
		obj = kind + " " + name
	}
	reason := s.Reason
	if reason == "" {
		reason = string(s.Category)
	}
	line := obj + ": " + reason
	if obj == "" {
		line = reason
	}
	if msg := strings.Join(strings.Fields(s.Message), " "); msg != "" {
		line += " (" + msg + ")"
	}
	return truncate(line, maxSummaryLen)
}

// isKind reports whether s looks like a Kubernetes kind (Pod, ReplicaSet), as opposed to, say,
// the scheme of a health-check URL.
func isKind(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// truncate cuts s to at most n bytes (plus "…") without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// utf8RuneStart reports whether b can begin a UTF-8 sequence.
func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// pickPods returns the failing pods to report: named pods first, then the others by name, at
// most maxPods, sorted by name.
func pickPods(pods []corev1.Pod, named map[string]bool) []*corev1.Pod {
	var first, rest []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		switch {
		case named[p.Name]:
			first = append(first, p)
		case p.DeletionTimestamp == nil && isFailing(p):
			rest = append(rest, p)
		}
	}
	byName := func(s []*corev1.Pod) {
		sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	}
	byName(first)
	byName(rest)
	picked := append(first, rest...)
	if len(picked) > maxPods {
		picked = picked[:maxPods]
	}
	byName(picked)
	return picked
}

// isFailing reports whether a pod is not Ready or has a container waiting or terminated.
func isFailing(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded {
		return false
	}
	if !podutils.IsPodReady(p) {
		return true
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.State.Waiting != nil || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0) {
			return true
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

// hasLogs reports whether the diagnosis quotes any crashed container's log lines.
func hasLogs(d Diagnosis) bool {
	for _, p := range d.Pods {
		for _, c := range p.Containers {
			if len(c.PreviousLogs) > 0 {
				return true
			}
		}
	}
	return false
}
