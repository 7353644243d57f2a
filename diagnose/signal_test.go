package diagnose

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEventSignal(t *testing.T) {
	ev := func(kind, name, typ, reason, msg string) *corev1.Event {
		return &corev1.Event{
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "ns"},
			Type:           typ, Reason: reason, Message: msg,
		}
	}
	const (
		pullNotFound = `Failed to pull image "x:bad": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/x:bad": not found`
		quota        = `pods "web-5d4f-abcde" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=3, limited: cpu=4`
		podSecurity  = `pods "web-5d4f-abcde" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true`
	)
	tests := []struct {
		name  string
		event *corev1.Event
		want  Signal // zero: no signal
	}{
		{name: "nil", event: nil},
		{name: "failed to pull image",
			event: ev("Pod", "web-1", "Warning", "Failed", pullNotFound),
			want:  Signal{ImagePull, "Pod/web-1", "Failed", pullNotFound}},
		{name: "kwok simulated pull failure",
			event: ev("Pod", "web-1", "Warning", "Failed", "Failed to pull image: not found (simulated by kwok)"),
			want:  Signal{ImagePull, "Pod/web-1", "Failed", "Failed to pull image: not found (simulated by kwok)"}},
		{name: "Error: ErrImagePull",
			event: ev("Pod", "web-1", "Warning", "Failed", "Error: ErrImagePull"),
			want:  Signal{ImagePull, "Pod/web-1", "Failed", "Error: ErrImagePull"}},
		{name: "pull access denied",
			event: ev("Pod", "web-1", "Warning", "Failed", "pull access denied for private/x, repository does not exist"),
			want:  Signal{ImagePull, "Pod/web-1", "Failed", "pull access denied for private/x, repository does not exist"}},
		{name: "unauthorized pulling image",
			event: ev("Pod", "web-1", "Warning", "Failed", `failed to resolve image "ghcr.io/o/x:1": unauthorized: authentication required`),
			want:  Signal{ImagePull, "Pod/web-1", "Failed", `failed to resolve image "ghcr.io/o/x:1": unauthorized: authentication required`}},
		{name: "missing configmap is not an image pull",
			event: ev("Pod", "web-1", "Warning", "Failed", `Error: configmap "app-config" not found`)},
		{name: "pull failure on a non-pod",
			event: ev("ReplicaSet", "web-5d4f", "Warning", "Failed", pullNotFound)},
		{name: "BackOff pulling is not Failed",
			event: ev("Pod", "web-1", "Normal", "BackOff", `Back-off pulling image "x:bad"`)},
		{name: "FailedCreate exceeded quota",
			event: ev("ReplicaSet", "web-5d4f", "Warning", "FailedCreate", "Error creating: "+quota),
			want:  Signal{Capacity, "ReplicaSet/web-5d4f", "FailedCreate", "Error creating: " + quota}},
		{name: "FailedCreate forbidden",
			event: ev("ReplicaSet", "web-5d4f", "Warning", "FailedCreate", "Error creating: "+podSecurity),
			want:  Signal{Capacity, "ReplicaSet/web-5d4f", "FailedCreate", "Error creating: " + podSecurity}},
		{name: "FailedCreate for another reason",
			event: ev("ReplicaSet", "web-5d4f", "Warning", "FailedCreate", "Error creating: Internal error occurred")},
		{name: "FailedCreate quota on a Job is not a ReplicaSet",
			event: ev("Job", "migrate", "Warning", "FailedCreate", "Error creating: "+quota)},
		{name: "FailedScheduling is transient",
			event: ev("Pod", "web-1", "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")},
		{name: "Unhealthy is not immediately fatal",
			event: ev("Pod", "web-1", "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")},
		{name: "BackOff restarting",
			event: ev("Pod", "web-1", "Warning", "BackOff", "Back-off restarting failed container")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := EventSignal(tt.event)
			wantOK := tt.want != (Signal{})
			if ok != wantOK || got != tt.want {
				t.Fatalf("EventSignal() = %+v, %v; want %+v, %v", got, ok, tt.want, wantOK)
			}
		})
	}
}

func TestDeploymentSignal(t *testing.T) {
	const (
		deadline = `ReplicaSet "web-5d4f" has timed out progressing.`
		quota    = `pods "web-5d4f-x" is forbidden: exceeded quota: compute`
	)
	dep := func(gen, observed int64, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: gen},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: observed, Conditions: conds},
		}
	}
	cond := func(typ appsv1.DeploymentConditionType, st corev1.ConditionStatus, reason, msg string) appsv1.DeploymentCondition {
		return appsv1.DeploymentCondition{Type: typ, Status: st, Reason: reason, Message: msg}
	}
	progressing := cond(appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable", "ok")
	timedOut := cond(appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded", deadline)
	replicaFailure := cond(appsv1.DeploymentReplicaFailure, corev1.ConditionTrue, "FailedCreate", quota)

	since := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) // when the watch began
	at := func(c appsv1.DeploymentCondition, d time.Duration) appsv1.DeploymentCondition {
		c.LastUpdateTime = metav1.NewTime(since.Add(d))
		c.LastTransitionTime = c.LastUpdateTime
		return c
	}
	tests := []struct {
		name  string
		d     *appsv1.Deployment
		since time.Time
		want  Signal // zero: no signal
	}{
		{name: "nil", d: nil},
		{name: "no conditions", d: dep(1, 1)},
		{name: "progressing", d: dep(2, 2, progressing,
			cond(appsv1.DeploymentAvailable, corev1.ConditionFalse, "MinimumReplicasUnavailable", "x"))},
		{name: "progress deadline exceeded", d: dep(2, 2, timedOut),
			want: Signal{Deadline, "Deployment/web", "ProgressDeadlineExceeded", deadline}},
		{name: "progressing false for another reason",
			d: dep(2, 2, cond(appsv1.DeploymentProgressing, corev1.ConditionFalse, "Paused", "paused"))},
		{name: "replica failure", d: dep(2, 2, progressing, replicaFailure),
			want: Signal{Capacity, "Deployment/web", "FailedCreate", quota}},
		{name: "replica failure false",
			d: dep(2, 2, cond(appsv1.DeploymentReplicaFailure, corev1.ConditionFalse, "FailedCreate", quota))},
		{name: "replica failure names the cause before the deadline", d: dep(2, 2, timedOut, replicaFailure),
			want: Signal{Capacity, "Deployment/web", "FailedCreate", quota}},
		{name: "stale conditions of the previous generation", d: dep(3, 2, timedOut)},
		{name: "a rollback: the failed version's quota refusal, from before the watch", d: dep(3, 3, progressing, at(replicaFailure, -time.Minute)), since: since},
		{name: "a rollback: the failed version's deadline, from before the watch", d: dep(3, 3, at(timedOut, -time.Minute)), since: since},
		{name: "a quota refusal of this rollout", d: dep(3, 3, progressing, at(replicaFailure, time.Second)), since: since,
			want: Signal{Capacity, "Deployment/web", "FailedCreate", quota}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DeploymentSignal(tt.d, tt.since)
			wantOK := tt.want != (Signal{})
			if ok != wantOK || got != tt.want {
				t.Fatalf("DeploymentSignal() = %+v, %v; want %+v, %v", got, ok, tt.want, wantOK)
			}
		})
	}
}
