//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// These tests prove the local control plane does what Shepherd's tests rely on: a real
// deployment controller, scheduler and quota admission, and kwok's simulated bad releases.

func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: image,
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
				}}},
			},
		},
	}
}

func create(t *testing.T, cs kubernetes.Interface, ns string, d *appsv1.Deployment) {
	t.Helper()
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
}

// eventually polls cond every 100ms for up to timeout and fails the test with the last
// explanation cond gave.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, string, error)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, why, err := cond(ctx)
		last = why
		return ok, err
	})
	if err != nil {
		t.Fatalf("%s: %v (last: %s)", what, err, last)
	}
}

func available(cs kubernetes.Interface, ns, name string) func(context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		want := *d.Spec.Replicas
		s := d.Status
		done := s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
			s.AvailableReplicas == want && s.Replicas == want
		return done, fmt.Sprintf("%+v", s), nil
	}
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	create(t, c.Client, ns, deployment("web", "example.com/web:v1", 3))
	eventually(t, 30*time.Second, "3 replicas available", available(c.Client, ns, "web"))
	d, _ := c.Client.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if !hasCondition(d.Status.Conditions, appsv1.DeploymentAvailable) {
		t.Fatalf("Available condition not true: %+v", d.Status.Conditions)
	}
}

func hasCondition(conds []appsv1.DeploymentCondition, typ appsv1.DeploymentConditionType) bool {
	for _, c := range conds {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func TestRollingUpdateReplacesReplicaSet(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	create(t, c.Client, ns, deployment("web", "example.com/web:v1", 3))
	eventually(t, 30*time.Second, "v1 available", available(c.Client, ns, "web"))
	d, _ := c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	d.Spec.Template.Spec.Containers[0].Image = "example.com/web:v2"
	if _, err := c.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "v2 rolled out", available(c.Client, ns, "web"))
	rss, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]int32{}
	for _, rs := range rss.Items {
		images[rs.Spec.Template.Spec.Containers[0].Image] = *rs.Spec.Replicas
	}
	if len(rss.Items) != 2 || images["example.com/web:v2"] != 3 || images["example.com/web:v1"] != 0 {
		t.Fatalf("want new ReplicaSet at 3 and old at 0, got %v", images)
	}
}

// podWhere waits for a pod of the namespace to satisfy cond and returns it.
func podWhere(t *testing.T, cs kubernetes.Interface, ns string, timeout time.Duration, what string, cond func(p corev1.Pod) bool) corev1.Pod {
	t.Helper()
	var found corev1.Pod
	eventually(t, timeout, what, func(ctx context.Context) (bool, string, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		var states []string
		for _, p := range pods.Items {
			if cond(p) {
				found = p
				return true, "", nil
			}
			states = append(states, fmt.Sprintf("%s %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses))
		}
		return false, strings.Join(states, "; "), nil
	})
	return found
}

// eventFor waits for an event with the reason on the named object and returns its message.
func eventFor(t *testing.T, cs kubernetes.Interface, ns, kind, name, reason string) string {
	t.Helper()
	var msg string
	eventually(t, 30*time.Second, reason+" event on "+kind+"/"+name, func(ctx context.Context) (bool, string, error) {
		sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "reason": reason}.AsSelector().String()
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil || len(evs.Items) == 0 {
			return false, fmt.Sprint(err), nil
		}
		msg = evs.Items[0].Message
		return true, "", nil
	})
	return msg
}

func waiting(p corev1.Pod, reason string) bool {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil && s.State.Waiting.Reason == reason {
			return true
		}
	}
	return false
}

func TestSimulatedBadImage(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	create(t, c.Client, ns, deployment("web", "example.com/web:bad-image", 1))
	p := podWhere(t, c.Client, ns, 30*time.Second, "ImagePullBackOff", func(p corev1.Pod) bool { return waiting(p, "ImagePullBackOff") })
	if p.Status.Phase != corev1.PodPending {
		t.Fatalf("phase %s, want Pending", p.Status.Phase)
	}
	ev := eventFor(t, c.Client, ns, "Pod", p.Name, "Failed")
	if !strings.Contains(ev, "not found") {
		t.Fatalf("event message %q does not say not found", ev)
	}
}

func TestSimulatedCrashLoop(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	create(t, c.Client, ns, deployment("web", "example.com/web:crashloop", 1))
	// restartCount rises (the second stage re-matches its own output every 5-15 s)
	p := podWhere(t, c.Client, ns, 60*time.Second, "CrashLoopBackOff with restartCount >= 2", func(p corev1.Pod) bool {
		return waiting(p, "CrashLoopBackOff") && p.Status.ContainerStatuses[0].RestartCount >= 2
	})
	st := p.Status.ContainerStatuses[0]
	if st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.ExitCode != 1 || st.Ready {
		t.Fatalf("want lastState terminated exit 1 and not ready, got %+v", st)
	}
	eventFor(t, c.Client, ns, "Pod", p.Name, "BackOff")
}

func TestSimulatedNeverReady(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	create(t, c.Client, ns, deployment("web", "example.com/web:never-ready", 1))
	p := podWhere(t, c.Client, ns, 30*time.Second, "Running", func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	st := p.Status.ContainerStatuses[0]
	if st.Ready || st.State.Running == nil {
		t.Fatalf("want running and not ready, got %+v", st)
	}
	eventFor(t, c.Client, ns, "Pod", p.Name, "Unhealthy")
	// and it stays that way
	time.Sleep(2 * time.Second)
	got, _ := c.Client.CoreV1().Pods(ns).Get(context.Background(), p.Name, metav1.GetOptions{})
	if got.Status.ContainerStatuses[0].Ready {
		t.Fatal("never-ready pod became ready")
	}
}

func TestOversizedRequestFailsScheduling(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	d := deployment("big", "example.com/big:v1", 1)
	d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("64")
	create(t, c.Client, ns, d)
	p := podWhere(t, c.Client, ns, 30*time.Second, "a pending pod", func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodPending })
	msg := eventFor(t, c.Client, ns, "Pod", p.Name, "FailedScheduling")
	if !strings.Contains(msg, "Insufficient cpu") {
		t.Fatalf("FailedScheduling message %q does not name Insufficient cpu", msg)
	}
}

func TestQuotaBlocksPodCreation(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "tight"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("50m")}}}
	if _, err := c.Client.CoreV1().ResourceQuotas(ns).Create(ctx, q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// quota admission needs the quota's status (computed by the controller) before it admits anything
	eventually(t, 30*time.Second, "quota status", func(ctx context.Context) (bool, string, error) {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "tight", metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) > 0, "", nil
	})
	create(t, c.Client, ns, deployment("web", "example.com/web:v1", 1))
	var rsName string
	eventually(t, 30*time.Second, "ReplicaSet", func(ctx context.Context) (bool, string, error) {
		rss, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(rss.Items) == 0 {
			return false, "", nil
		}
		rsName = rss.Items[0].Name
		return true, "", nil
	})
	msg := eventFor(t, c.Client, ns, "ReplicaSet", rsName, "FailedCreate")
	if !strings.Contains(msg, "exceeded quota") {
		t.Fatalf("FailedCreate message %q does not say exceeded quota", msg)
	}
}
