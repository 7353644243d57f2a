//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// podQuota puts a ResourceQuota of exactly n pods on ns and waits for its status.
func podQuota(t *testing.T, c *testcluster.Cluster, ns string, n string) {
	t.Helper()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse(n)}}}
	if _, err := c.Client.CoreV1().ResourceQuotas(ns).Create(context.Background(), q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "quota status", func(ctx context.Context) (bool, string, error) {
		q, err := c.Client.CoreV1().ResourceQuotas(ns).Get(ctx, "pods", metav1.GetOptions{})
		used := q.Status.Used[corev1.ResourcePods]
		return err == nil && len(q.Status.Hard) > 0 && used.String() == n, "used " + used.String(), nil
	})
}

// A ResourceQuota at exactly the 3 pods that run: keep_capacity's surge pod could never be
// created. A chart whose own rollout takes a pod out first (maxUnavailable 1) keeps it, with
// no surge pod asked for: the deploy goes through, said as a warning naming keep_capacity, and
// the Service never has fewer than 2 ready endpoints. A chart whose own rollout needs the
// surge pod too is refused before any write, naming keep_capacity and the quota, where it
// used to stall into a rollback blamed on the quota.
func TestKeepCapacityWithAQuotaAtExactlyN(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	own := []string{"set", "strategy.maxUnavailable=1\nstrategy.maxSurge=0"}
	install(t, c, ns, "1.0.0", own...)
	podQuota(t, c, ns, "3")
	sampler := c.SampleEndpoints(ns, "web")
	r := runAction(t, deployInputs(c, ns, "1.1.0", own...))
	fig := sampler.Stop()
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("deploy under a full quota with the chart's own rollout: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	for _, s := range []string{"keep_capacity: Deployment/web keeps its chart's own rollout", "ResourceQuota pods allows 3 pods and 3 are used"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("the log does not say %q:\n%s", s, r.Stdout)
		}
	}
	serving(t, c, ns, "1.1.0")
	t.Logf("ready endpoints: %+v", fig)
	if fig.Samples < 5 || fig.Min < 2 {
		t.Errorf("Service web had %d ready endpoints at the fewest (%d samples), want at least 2 (one pod out at a time)", fig.Min, fig.Samples)
	}

	r = runAction(t, deployInputs(c, ns, "1.2.0")) // the chart's default: maxUnavailable 0
	if r.Exit == 0 {
		t.Fatalf("a rollout that needs a surge pod under a full quota was not refused\n%s", r.Stdout)
	}
	want(t, "status", r.Outputs["status"], "failed")
	for _, s := range []string{"keep_capacity: Deployment/web cannot roll", "ResourceQuota pods allows 3 pods and 3 are used", "raise the quota"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("the refusal does not say %q:\n%s", s, r.Stdout)
		}
	}
	wantHistory(t, c, ns, "1:superseded", "2:deployed")
	serving(t, c, ns, "1.1.0")
}

// One replica whose pods mount a ReadWriteOncePod claim (a static PersistentVolume bound by
// the controller-manager; the scheduler keeps a second pod of the claim off every node): a
// surge pod could never run, so the chart's own rollout (maxUnavailable 1, maxSurge 0) is
// kept and the deploy goes through, where keep_capacity's surge used to stall it into a
// rollback.
func TestKeepCapacityWithAReadWriteOncePodVolume(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	rwop := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}
	size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data-" + ns},
		Spec: corev1.PersistentVolumeSpec{AccessModes: rwop, Capacity: size, StorageClassName: "manual",
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns}},
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: "data"}}}
	if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	manual := "manual"
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: rwop, StorageClassName: &manual, VolumeName: pv.Name,
			Resources: corev1.VolumeResourceRequirements{Requests: size}}}
	if _, err := c.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "claim data bound", func(ctx context.Context) (bool, string, error) {
		got, err := c.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return got.Status.Phase == corev1.ClaimBound, string(got.Status.Phase), nil
	})
	in := []string{"set", "replicaCount=1\npersistence.claimName=data\nstrategy.maxUnavailable=1\nstrategy.maxSurge=0"}
	install(t, c, ns, "1.0.0", in...)
	r := runAction(t, deployInputs(c, ns, "1.1.0", in...))
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		t.Fatalf("deploy of a one-replica release on a ReadWriteOncePod claim: exit %d %v\n%s", r.Exit, r.Outputs, r.Stdout)
	}
	if !strings.Contains(r.Stdout, `keep_capacity: Deployment/web keeps its chart's own rollout`) || !strings.Contains(r.Stdout, "ReadWriteOncePod") {
		t.Errorf("the log does not say why keep_capacity kept the chart's rollout:\n%s", r.Stdout)
	}
	serving(t, c, ns, "1.1.0")
	wantHistory(t, c, ns, "1:superseded", "2:deployed")
}
