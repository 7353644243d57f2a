//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func testdataChart(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return p
}

// workloadInputs deploy testdata/workloads (a StatefulSet "shop-db", a DaemonSet
// "shop-agent", a Secret) as release shop at tag.
func workloadInputs(c *testcluster.Cluster, ns, tag string, extra ...string) map[string]string {
	in := map[string]string{"release": "shop", "namespace": ns, "chart": testdataChart("workloads"), "image_tag": tag,
		"kubeconfig": string(c.Kubeconfig), "timeout": "60s"}
	for i := 0; i+1 < len(extra); i += 2 {
		in[extra[i]] = extra[i+1]
	}
	return in
}

// statefulSetServes waits until shop-db runs tag on every replica, rolled out and ready.
func statefulSetServes(t *testing.T, c *testcluster.Cluster, ns, tag string) {
	t.Helper()
	eventually(t, time.Minute, "shop-db serving "+tag, func(ctx context.Context) (bool, string, error) {
		s, err := c.Client.AppsV1().StatefulSets(ns).Get(ctx, "shop-db", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		st := s.Status
		img := s.Spec.Template.Spec.Containers[0].Image
		ok := strings.HasSuffix(img, ":"+tag) && st.ObservedGeneration >= s.Generation && st.CurrentRevision == st.UpdateRevision &&
			st.ReadyReplicas == *s.Spec.Replicas && st.UpdatedReplicas == *s.Spec.Replicas
		return ok, img + " " + st.CurrentRevision + "/" + st.UpdateRevision, nil
	})
}

// daemonSetServes waits until shop-agent runs tag on every node, rolled out and ready.
func daemonSetServes(t *testing.T, c *testcluster.Cluster, ns, tag string) {
	t.Helper()
	eventually(t, time.Minute, "shop-agent serving "+tag, func(ctx context.Context) (bool, string, error) {
		d, err := c.Client.AppsV1().DaemonSets(ns).Get(ctx, "shop-agent", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		st := d.Status
		img := d.Spec.Template.Spec.Containers[0].Image
		ok := strings.HasSuffix(img, ":"+tag) && st.ObservedGeneration >= d.Generation && st.DesiredNumberScheduled > 0 &&
			st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberReady == st.DesiredNumberScheduled
		return ok, img, nil
	})
}

// A StatefulSet or a DaemonSet whose new image crash-loops is caught and rolled back, exactly
// as a Deployment is (it used to be reported "succeeded" in under a second).
func TestStatefulSetAndDaemonSetCrashLoopsRollBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, only, object string
	}{
		{"statefulset", "daemonset.enabled=false", "shop-db-"},
		{"daemonset", "statefulset.enabled=false", "shop-agent-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testcluster.Shared(t)
			ns := c.NewNamespace(t)
			first := runAction(t, workloadInputs(c, ns, "v1", "set", tc.only))
			if first.Exit != 0 || first.Outputs["status"] != "succeeded" {
				t.Fatalf("first install: exit %d %v\n%s", first.Exit, first.Outputs, first.Stdout)
			}
			r := runAction(t, workloadInputs(c, ns, "v2-crashloop", "set", tc.only))
			if r.Exit == 0 {
				t.Fatalf("a crash-looping %s exited 0:\n%s", tc.name, r.Stdout)
			}
			want(t, "status", r.Outputs["status"], "rolled-back")
			want(t, "failure_reason", r.Outputs["failure_reason"], string(diagnose.CrashLoop))
			want(t, "rollback_revision", r.Outputs["rollback_revision"], "1")
			if d := diagnosisOf(t, r); len(d.Pods) == 0 || !strings.HasPrefix(d.Pods[0].Name, tc.object) {
				t.Errorf("the diagnosis does not show the %s's crashing pod: %+v", tc.name, d.Pods)
			}
			if tc.name == "statefulset" {
				// OrderedReady (the default): the crash-looping pod is deleted after the
				// revert, or the StatefulSet waits for it forever (Kubernetes' forced rollback).
				if !strings.Contains(r.Summary, "forced rollback: deleted pod shop-db-") {
					t.Errorf("the summary does not name the pod the forced rollback deleted:\n%s", r.Summary)
				}
				statefulSetServes(t, c, ns, "v1")
			} else {
				daemonSetServes(t, c, ns, "v1")
			}
			h := history(t, c, ns, "shop")
			if strings.Join(h, " ") != "1:superseded 2:failed 3:deployed" {
				t.Errorf("history %v", h)
			}
		})
	}
}

// A good upgrade of both kinds completes, and a partitioned StatefulSet is done when the pods
// above the partition are updated (the rest stay on the old template, as asked).
func TestStatefulSetAndDaemonSetUpgrade(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	if r := runAction(t, workloadInputs(c, ns, "v1")); r.Exit != 0 {
		t.Fatalf("install: %v\n%s", r.Outputs, r.Stdout)
	}
	r := runAction(t, workloadInputs(c, ns, "v2"))
	want(t, "status", r.Outputs["status"], "succeeded")
	statefulSetServes(t, c, ns, "v2")
	daemonSetServes(t, c, ns, "v2")
	r = runAction(t, workloadInputs(c, ns, "v3", "set", "statefulset.partition=1"))
	want(t, "partitioned status", r.Outputs["status"], "succeeded")
	pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=shop-db"})
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{}
	for _, p := range pods.Items {
		images[p.Name] = p.Spec.Containers[0].Image
	}
	if !strings.HasSuffix(images["shop-db-1"], ":v3") || !strings.HasSuffix(images["shop-db-0"], ":v2") {
		t.Errorf("partition 1: want shop-db-1 on v3 and shop-db-0 kept on v2, got %v", images)
	}
}

// A chart that renders no workload is not "a healthy rollout": the run says there was none.
func TestChartWithoutWorkloadsSaysSo(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	r := runAction(t, map[string]string{"release": "settings", "namespace": ns, "chart": testdataChart("noworkload"),
		"kubeconfig": string(c.Kubeconfig)})
	want(t, "exit", r.Exit, 0)
	want(t, "status", r.Outputs["status"], "succeeded")
	for _, out := range []string{r.Stdout, r.Summary} {
		if !strings.Contains(out, "no Deployment, StatefulSet or DaemonSet") {
			t.Errorf("the run does not say the chart has no workload:\n%s", out)
		}
	}
}

// A dry run of a chart whose Secret changes shows which keys change, never a value: not in the
// job summary, not in the log, not on the CLI.
func TestDryRunNeverShowsSecretValues(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	const oldURL, newURL = "postgres://app:OldPa55word@db/app", "postgres://app:NewPa55word@db/app"
	if r := runAction(t, workloadInputs(c, ns, "v1", "set", "db.url="+oldURL)); r.Exit != 0 {
		t.Fatalf("install: %v\n%s", r.Outputs, r.Stdout)
	}
	r := runAction(t, workloadInputs(c, ns, "v1", "set", "db.url="+newURL, "dry_run", "true"))
	want(t, "status", r.Outputs["status"], "dry-run")
	cli := runCLI(t, c, "deploy", "--release", "shop", "--namespace", ns, "--chart", testdataChart("workloads"),
		"--image-tag", "v1", "--set", "db.url="+newURL, "--dry-run")
	secrets := []string{"OldPa55word", "NewPa55word", base64.StdEncoding.EncodeToString([]byte(oldURL)),
		base64.StdEncoding.EncodeToString([]byte(newURL))}
	for name, out := range map[string]string{"summary": r.Summary, "log": r.Stdout, "cli": cli.out} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("the dry run's %s shows the secret value %q:\n%s", name, s, out)
			}
		}
		if name != "log" && (!strings.Contains(out, "url: (hidden, changed)") || !strings.Contains(out, "Secret/shop-db")) {
			t.Errorf("the dry run's %s does not say the Secret's url changed:\n%s", name, out)
		}
	}
}
