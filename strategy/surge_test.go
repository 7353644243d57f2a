package strategy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// web renders Deployment web with a rollout (YAML under spec) and a pod spec (YAML under the
// template's spec, containers included).
func web(rollout, pod string) string {
	return "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n" + rollout +
		"  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n" + pod
}

const (
	plainPod    = "      containers: [{name: app, image: x, resources: {requests: {cpu: 100m}}}]\n"
	rwopPod     = plainPod + "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
	hostPortPod = "      containers: [{name: app, image: x, ports: [{containerPort: 80, hostPort: 8080}]}]\n"
	apartPod    = plainPod + "      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n" +
		"          - topologyKey: kubernetes.io/hostname\n            labelSelector: {matchLabels: {app: web}}\n"
	ownOne  = "  strategy:\n    rollingUpdate: {maxUnavailable: 1, maxSurge: 0}\n"
	needsUp = "  strategy:\n    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}\n"
)

func quota(name string, hard, used corev1.ResourceList) corev1.ResourceQuota {
	return corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.ResourceQuotaStatus{Hard: hard, Used: used}}
}

func TestPlanSurge(t *testing.T) {
	pods := func(hard, used string) []corev1.ResourceQuota {
		return []corev1.ResourceQuota{quota("compute", corev1.ResourceList{"pods": resource.MustParse(hard)}, corev1.ResourceList{"pods": resource.MustParse(used)})}
	}
	rwop := map[string]corev1.PersistentVolumeClaim{"data": {ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}}}}
	running := map[string]int{"web": 2}
	for _, tc := range []struct {
		name     string
		manifest string
		room     Room
		own      string // the reason web keeps its own rollout ("": keep_capacity applies)
		refused  string // a refusal saying this ("": none)
	}{
		{"room for a surge pod", web(ownOne, plainPod), Room{Quotas: pods("3", "2"), Running: running, Nodes: 3}, "", ""},
		{"a quota at exactly N, the chart's rollout can take a pod out", web(ownOne, plainPod), Room{Quotas: pods("2", "2"), Running: running}, "ResourceQuota compute allows 2 pods and 2 are used", ""},
		{"a quota at exactly N, the chart's rollout needs a surge too", web(needsUp, plainPod), Room{Quotas: pods("2", "2"), Running: running}, "", "raise the quota by one pod"},
		{"a quota of CPU requests used up", web(ownOne, plainPod), Room{Running: running,
			Quotas: []corev1.ResourceQuota{quota("cpu", corev1.ResourceList{"requests.cpu": resource.MustParse("200m")}, corev1.ResourceList{"requests.cpu": resource.MustParse("150m")})}}, "allows 200m requests.cpu and 150m are used", ""},
		{"a ReadWriteOncePod claim", web(ownOne, rwopPod), Room{Claims: rwop, Running: running}, "ReadWriteOncePod", ""},
		{"a ReadWriteOncePod claim, Kubernetes' default rollout at 2 replicas", web("", rwopPod), Room{Claims: rwop, Running: running}, "", "keep_capacity: Deployment/web cannot roll"},
		{"a first install needs no surge", web(needsUp, rwopPod), Room{Claims: rwop, Running: map[string]int{}}, "", ""},
		{"a host port on every node", web(ownOne, hostPortPod), Room{Nodes: 2, Running: running}, "hostPort 8080", ""},
		{"a host port on every node, the chart's surge of 25% taken off", web("  strategy:\n    rollingUpdate: {maxUnavailable: 1}\n", hostPortPod), Room{Nodes: 2, Running: running}, "hostPort 8080", ""},
		{"a host port with a free node", web(ownOne, hostPortPod), Room{Nodes: 3, Running: running}, "", ""},
		{"one per node, every node taken", web(ownOne, apartPod), Room{Nodes: 2, Running: running}, "one pod per node", ""},
		{"Recreate rolls without a surge", web("  strategy: {type: Recreate}\n", rwopPod), Room{Claims: rwop, Running: running}, "ReadWriteOncePod", ""},
	} {
		own, err := PlanSurge(tc.manifest, tc.room)
		switch {
		case tc.refused != "":
			if err == nil || !strings.Contains(err.Error(), tc.refused) || !strings.Contains(err.Error(), "keep_capacity") {
				t.Errorf("%s: %v, want a refusal naming keep_capacity and saying %q", tc.name, err, tc.refused)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := own["web"]; (tc.own == "") != (got == "") || !strings.Contains(got, tc.own) {
			t.Errorf("%s: web keeps its own rollout for %q, want %q", tc.name, got, tc.own)
		}
		out, changed, err := KeepCapacity(tc.manifest, own)
		if err != nil {
			t.Fatal(err)
		}
		if tc.own != "" && (strings.Contains(out, "maxUnavailable: 0") || strings.Contains(out, "maxSurge: 1")) {
			t.Errorf("%s: keep_capacity changed a Deployment whose surge pod cannot run: %v\n%s", tc.name, changed, out)
		}
		if tc.own != "" && !strings.Contains(tc.manifest, "Recreate") && !strings.Contains(out, "maxSurge: 0") {
			t.Errorf("%s: a Deployment whose surge pod cannot run still asks for one:\n%s", tc.name, out)
		}
	}
}
