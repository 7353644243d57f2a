package diagnose

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefaultBudgets(t *testing.T) {
	got := DefaultBudgets()
	if want := (Budgets{Unschedulable: 10 * time.Second}); got != want {
		t.Fatalf("DefaultBudgets() = %+v, want %+v", got, want)
	}
}

func TestPodSignal(t *testing.T) {
	const insufficient = "0/1 nodes are available: 1 Insufficient cpu."
	def := DefaultBudgets()
	withProbe := func(readiness, startup *corev1.Probe) podOpt {
		return containers(corev1.Container{Name: "app", Image: "web:1", ReadinessProbe: readiness, StartupProbe: startup})
	}
	noStartedAt := func(p *corev1.Pod) { p.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.Time{} }
	created := func(d time.Duration) podOpt {
		return func(p *corev1.Pod) { p.CreationTimestamp = ago(d) }
	}
	zeroTransition := func(p *corev1.Pod) { p.Status.Conditions[0].LastTransitionTime = metav1.Time{} }

	tests := []struct {
		name    string
		pod     *corev1.Pod
		budgets Budgets
		want    Signal // zero: no signal
	}{
		{name: "nil pod", pod: nil},
		{name: "healthy", pod: newPod("web-1", ready(true), statuses(running("app", time.Hour, true)))},
		{name: "pending without statuses", pod: newPod("web-1", phase(corev1.PodPending))},

		// image pull
		{name: "ImagePullBackOff",
			pod:  newPod("web-1", phase(corev1.PodPending), statuses(waiting("app", "ImagePullBackOff", `Back-off pulling image "x:bad-image"`))),
			want: Signal{ImagePull, "Pod/web-1", "ImagePullBackOff", `Back-off pulling image "x:bad-image"`}},
		{name: "ErrImagePull",
			pod:  newPod("web-1", statuses(waiting("app", "ErrImagePull", "manifest unknown"))),
			want: Signal{ImagePull, "Pod/web-1", "ErrImagePull", "manifest unknown"}},
		{name: "InvalidImageName",
			pod:  newPod("web-1", statuses(waiting("app", "InvalidImageName", "invalid reference format"))),
			want: Signal{ImagePull, "Pod/web-1", "InvalidImageName", "invalid reference format"}},
		{name: "init container ImagePullBackOff",
			pod: newPod("web-1", phase(corev1.PodPending),
				initStatuses(waiting("migrate", "ImagePullBackOff", "back-off")),
				statuses(waiting("app", "PodInitializing", ""))),
			want: Signal{ImagePull, "Pod/web-1", "ImagePullBackOff", "back-off"}},
		{name: "image pull wins over crash loop in another container",
			pod: newPod("web-1", statuses(
				waiting("sidecar", "CrashLoopBackOff", "back-off 10s"),
				waiting("app", "ImagePullBackOff", "pull"))),
			want: Signal{ImagePull, "Pod/web-1", "ImagePullBackOff", "pull"}},
		{name: "other waiting reason is not a signal",
			pod: newPod("web-1", phase(corev1.PodPending), statuses(waiting("app", "ContainerCreating", "")))},

		// crash loop
		{name: "CrashLoopBackOff",
			pod:  newPod("web-1", statuses(lastTerminated(waiting("app", "CrashLoopBackOff", "back-off 10s restarting failed container=app"), 1, "Error", 3))),
			want: Signal{CrashLoop, "Pod/web-1", "CrashLoopBackOff", "back-off 10s restarting failed container=app"}},
		{name: "CrashLoopBackOff after OOMKilled",
			pod:  newPod("web-1", statuses(lastTerminated(waiting("app", "CrashLoopBackOff", "back-off"), 137, "OOMKilled", 2))),
			want: Signal{CrashLoop, "Pod/web-1", "OOMKilled", `container "app" was OOMKilled (exit code 137, 2 restarts)`}},
		{name: "running again after OOMKilled",
			pod:  newPod("web-1", ready(true), statuses(lastTerminated(running("app", time.Second, true), 137, "OOMKilled", 1))),
			want: Signal{CrashLoop, "Pod/web-1", "OOMKilled", `container "app" was OOMKilled (exit code 137, 1 restarts)`}},
		{name: "currently terminated OOMKilled keeps kubelet message",
			pod: newPod("web-1", statuses(corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "memory limit 64Mi"},
			}})),
			want: Signal{CrashLoop, "Pod/web-1", "OOMKilled", "memory limit 64Mi"}},
		{name: "init container CrashLoopBackOff",
			pod: newPod("web-1", phase(corev1.PodPending),
				initStatuses(lastTerminated(waiting("migrate", "CrashLoopBackOff", "back-off"), 1, "Error", 4))),
			want: Signal{CrashLoop, "Pod/web-1", "CrashLoopBackOff", "back-off"}},
		{name: "previous non-OOM exit while running ready is not a signal",
			pod: newPod("web-1", ready(true), statuses(lastTerminated(running("app", time.Hour, true), 1, "Error", 1)))},
		{name: "crash loop wins over config error in another container",
			pod: newPod("web-1", statuses(
				waiting("a", "CreateContainerConfigError", `secret "x" not found`),
				waiting("b", "CrashLoopBackOff", "back-off"))),
			want: Signal{CrashLoop, "Pod/web-1", "CrashLoopBackOff", "back-off"}},

		// config
		{name: "CreateContainerConfigError",
			pod:  newPod("web-1", phase(corev1.PodPending), statuses(waiting("app", "CreateContainerConfigError", `configmap "app-config" not found`))),
			want: Signal{Config, "Pod/web-1", "CreateContainerConfigError", `configmap "app-config" not found`}},
		{name: "CreateContainerError",
			pod:  newPod("web-1", statuses(waiting("app", "CreateContainerError", "failed to create containerd container"))),
			want: Signal{Config, "Pod/web-1", "CreateContainerError", "failed to create containerd container"}},
		{name: "init container CreateContainerConfigError",
			pod: newPod("web-1", phase(corev1.PodPending),
				initStatuses(waiting("migrate", "CreateContainerConfigError", "couldn't find key PASSWORD in Secret ns/db"))),
			want: Signal{Config, "Pod/web-1", "CreateContainerConfigError", "couldn't find key PASSWORD in Secret ns/db"}},

		// capacity
		{name: "unschedulable past budget", budgets: def,
			pod:  newPod("web-1", unschedulableFor(11*time.Second, insufficient)),
			want: Signal{Capacity, "Pod/web-1", "FailedScheduling", insufficient}},
		{name: "unschedulable exactly at budget", budgets: def, pod: newPod("web-1", unschedulableFor(10*time.Second, insufficient))},
		{name: "unschedulable within budget", budgets: def, pod: newPod("web-1", unschedulableFor(3*time.Second, insufficient))},
		{name: "unschedulable custom budget", budgets: Budgets{Unschedulable: time.Minute},
			pod: newPod("web-1", unschedulableFor(59*time.Second, insufficient))},
		{name: "unschedulable zero budget reports at once", budgets: Budgets{},
			pod:  newPod("web-1", unschedulableFor(0, insufficient)),
			want: Signal{Capacity, "Pod/web-1", "FailedScheduling", insufficient}},
		{name: "unschedulable without transition time falls back to creation", budgets: def,
			pod:  newPod("web-1", unschedulableFor(0, insufficient), zeroTransition, created(time.Minute)),
			want: Signal{Capacity, "Pod/web-1", "FailedScheduling", insufficient}},
		{name: "unschedulable without any timestamp", budgets: def,
			pod: newPod("web-1", unschedulableFor(0, insufficient), zeroTransition)},
		{name: "scheduling gated is not unschedulable", budgets: def,
			pod: newPod("web-1", phase(corev1.PodPending), func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonSchedulingGated, LastTransitionTime: ago(time.Hour)}}
			})},

		// probe
		{name: "not ready past default probe budget (35s)",
			pod:  newPod("web-1", withProbe(probe(0, 0, 0), nil), statuses(running("app", 36*time.Second, false))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "app" has been running for 36s without passing its readiness probe (budget 35s)`}},
		{name: "not ready exactly at default probe budget",
			pod: newPod("web-1", withProbe(probe(0, 0, 0), nil), statuses(running("app", 35*time.Second, false)))},
		{name: "probe budget from fields: 20+5*4+5 = 45s, at 44s",
			pod: newPod("web-1", withProbe(probe(20, 5, 4), nil), statuses(running("app", 44*time.Second, false)))},
		{name: "probe budget from fields: 20+5*4+5 = 45s, at 46s",
			pod:  newPod("web-1", withProbe(probe(20, 5, 4), nil), statuses(running("app", 46*time.Second, false))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "app" has been running for 46s without passing its readiness probe (budget 45s)`}},
		{name: "no readiness probe: 30s, at 29s",
			pod: newPod("web-1", statuses(running("app", 29*time.Second, false)))},
		{name: "no readiness probe: 30s, at 31s",
			pod:  newPod("web-1", statuses(running("app", 31*time.Second, false))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "app" has been running for 31s without becoming ready (budget 30s)`}},
		{name: "fixed NotReady budget overrides the probe", budgets: Budgets{NotReady: 5 * time.Second},
			pod:  newPod("web-1", withProbe(probe(60, 10, 3), nil), statuses(running("app", 6*time.Second, false))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "app" has been running for 6s without passing its readiness probe (budget 5s)`}},
		{name: "startup probe window is added (35s + 10*30s)",
			pod: newPod("web-1", withProbe(probe(0, 0, 0), probe(0, 10, 30)), statuses(running("app", 300*time.Second, false)))},
		{name: "startup probe window exceeded",
			pod:  newPod("web-1", withProbe(probe(0, 0, 0), probe(0, 10, 30)), statuses(running("app", 336*time.Second, false))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "app" has been running for 5m36s without passing its readiness probe (budget 5m35s)`}},
		{name: "measured from pod startTime without startedAt",
			pod:  newPod("web-1", started(time.Minute), statuses(running("app", 0, false))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "app" has been running for 1m0s without becoming ready (budget 30s)`}},
		{name: "startedAt wins over pod startTime",
			pod: newPod("web-1", started(time.Hour), statuses(running("app", 10*time.Second, false)))},
		{name: "no timestamps at all", pod: newPod("web-1", statuses(running("app", 0, false)), noStartedAt)},
		{name: "not-ready budget only applies to Running pods",
			pod: newPod("web-1", phase(corev1.PodPending), statuses(running("app", time.Hour, false)))},
		{name: "ready container is fine", pod: newPod("web-1", statuses(running("app", time.Hour, true)))},
		{name: "sidecar init container never ready",
			pod:  newPod("web-1", initStatuses(running("proxy", time.Minute, false)), statuses(running("app", time.Minute, true))),
			want: Signal{Probe, "Pod/web-1", "Unhealthy", `container "proxy" has been running for 1m0s without becoming ready (budget 30s)`}},
		{name: "pod being deleted never signals",
			pod: newPod("web-1", deleting(), statuses(waiting("app", "ImagePullBackOff", "x"), running("b", time.Hour, false)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PodSignal(tt.pod, now, tt.budgets)
			wantOK := tt.want != (Signal{})
			if ok != wantOK || got != tt.want {
				t.Fatalf("PodSignal() = %+v, %v; want %+v, %v", got, ok, tt.want, wantOK)
			}
		})
	}
}

func TestPodSignalIsPureInNow(t *testing.T) {
	p := newPod("web-1", unschedulableFor(0, "no room"))
	p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now)
	b := DefaultBudgets()
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{0, false}, {10 * time.Second, false}, {10*time.Second + time.Millisecond, true}, {time.Hour, true}} {
		if _, ok := PodSignal(p, now.Add(tc.at), b); ok != tc.want {
			t.Errorf("at now+%s: signal = %v, want %v", tc.at, ok, tc.want)
		}
	}
}
