//go:build e2e

package dataplane

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// podConfig is what a pod of the track (stable or canary) reads of its config: env GREETING as
// it started with and the mounted file as it is now, asked through a port-forward.
func podConfig(t *testing.T, c *testcluster.Cluster, ns, track string) (env, file string) {
	t.Helper()
	sel := "app.kubernetes.io/instance=web,shepherd.io/track!=canary"
	if track == "canary" {
		sel = "app.kubernetes.io/instance=web,shepherd.io/track=canary"
	}
	return podConfigOf(t, c, ns, sel)
}

// podConfigOf is podConfig of a ready pod that sel selects.
func podConfigOf(t *testing.T, c *testcluster.Cluster, ns, sel string) (env, file string) {
	t.Helper()
	var pod string
	eventually(t, time.Minute, "a ready pod "+sel, func(ctx context.Context) (bool, string) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			for _, cd := range p.Status.Conditions {
				if cd.Type == corev1.PodReady && cd.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					pod = p.Name
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("none of %d ready", len(pods.Items))
	})
	var got struct {
		Env  string `json:"greeting_env"`
		File string `json:"greeting_file"`
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/config", portForward(t, c, ns, pod, 8080))
	eventually(t, 20*time.Second, "the pod's /api/config", func(context.Context) (bool, string) {
		_, err := tryJSON(url, &got)
		return err == nil, fmt.Sprint(err)
	})
	return got.Env, got.File
}

// A release that changes only its ConfigMap goes canary: until it is promoted the stable pods
// read the old value, from env and from their mounted file (which would change in place if the
// ConfigMap they mount changed); the canary's pods read the new one. An aborted canary leaves
// no trace of its value anywhere.
func TestCanaryConfigReachesTheStableTrackOnlyAtPromotion(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	in := func(greeting string, extra ...string) map[string]string {
		return canaryInputs(c, ns, "1.0.0", append([]string{"set", "replicaCount=2\nconfig.greeting=" + greeting}, extra...)...)
	}
	if r := runAction(t, in("hello-v1")); r.Exit != 0 {
		t.Fatalf("first install: exit %d\n%s", r.Exit, r.Stdout)
	}
	r := runAction(t, in("hello-v2", "auto_promote", "false"))
	wantOut(t, r, "status", "awaiting-promotion")
	time.Sleep(2 * time.Second) // longer than the data plane's mount sync: a changed file would show
	if env, file := podConfig(t, c, ns, "stable"); env != "hello-v1" || file != "hello-v1" {
		t.Errorf("a stable pod reads env %q and file %q before the promotion, want hello-v1 for both", env, file)
	}
	if env, file := podConfig(t, c, ns, "canary"); env != "hello-v2" || file != "hello-v2" {
		t.Errorf("a canary pod reads env %q and file %q, want hello-v2 for both", env, file)
	}
	p := runAction(t, canaryInputs(c, ns, "", "mode", "promote", "chart", ""))
	wantOut(t, p, "status", "succeeded")
	eventually(t, 30*time.Second, "the stable track on the new config", func(context.Context) (bool, string) {
		env, file := podConfig(t, c, ns, "stable")
		return env == "hello-v2" && file == "hello-v2", "env " + env + ", file " + file
	})

	r = runAction(t, in("hello-v3", "auto_promote", "false"))
	wantOut(t, r, "status", "awaiting-promotion")
	a := runAction(t, canaryInputs(c, ns, "", "mode", "abort", "chart", "", "reason", "not this config"))
	wantOut(t, a, "status", "aborted")
	cms, err := c.Client.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		for k, v := range cm.Data {
			if strings.Contains(v, "hello-v3") {
				t.Errorf("ConfigMap %s still holds the aborted canary's %s=%s", cm.Name, k, v)
			}
		}
	}
	if env, file := podConfig(t, c, ns, "stable"); env != "hello-v2" || file != "hello-v2" {
		t.Errorf("after the abort a stable pod reads env %q and file %q, want hello-v2", env, file)
	}
}

// colorConfig is what a pod of colour col reads of its config.
func colorConfig(t *testing.T, c *testcluster.Cluster, ns, col string) (env, file string) {
	t.Helper()
	return podConfigOf(t, c, ns, "app.kubernetes.io/instance=web,shepherd.io/color="+col)
}

// Blue-green: each colour reads its own copy of the config; the serving colour never sees the
// new version's, before the switch or after a switch back.
func TestBlueGreenConfigIsPerColour(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	set := func(greeting string) string { return "replicaCount=2\nconfig.greeting=" + greeting }
	bgDeploy(t, c, ns, "1.0.0", "blue", "set", set("hello-v1"))
	r := runAction(t, bgInputs(c, ns, "1.0.0", "set", set("hello-v2"), "auto_promote", "false"))
	wantOut(t, r, "status", "awaiting-promotion")
	time.Sleep(2 * time.Second) // longer than the data plane's mount sync
	if env, file := colorConfig(t, c, ns, "blue"); env != "hello-v1" || file != "hello-v1" {
		t.Errorf("the serving colour reads env %q and file %q before the switch, want hello-v1", env, file)
	}
	if env, file := colorConfig(t, c, ns, "green"); env != "hello-v2" || file != "hello-v2" {
		t.Errorf("the new colour reads env %q and file %q, want hello-v2", env, file)
	}
	p := runAction(t, map[string]string{"mode": "promote", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig), "grace_period": "2s"})
	wantOut(t, p, "status", "succeeded")
	rb := runAction(t, map[string]string{"mode": "rollback", "release": "web", "namespace": ns, "kubeconfig": string(c.Kubeconfig), "reason": "back to v1s config", "verify_duration": "2s"})
	wantOut(t, rb, "status", "rolled-back")
	if env, file := colorConfig(t, c, ns, "blue"); env != "hello-v1" || file != "hello-v1" {
		t.Errorf("after the switch back blue reads env %q and file %q, want hello-v1", env, file)
	}
}
