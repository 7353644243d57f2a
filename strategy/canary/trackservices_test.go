package canary

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/release"
)

const routedChart = `---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  type: NodePort
  clusterIP: 10.0.0.9
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-canary, labels: {shepherd.io/track: canary}}
spec:
  selector: {matchLabels: {app: web, shepherd.io/track: canary}}
  template: {metadata: {labels: {app: web, shepherd.io/track: canary}}}
`

func TestTrackServices(t *testing.T) {
	out, err := TrackServices(routedChart, []string{"web"}, map[string]string{"web": "5d9f7c"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := release.SplitManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	sel := map[string]map[string]any{}
	for _, r := range rs {
		if r.Kind != "Service" {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(r.Raw), &obj); err != nil {
			t.Fatal(err)
		}
		sel[r.Name] = rewrite.MapAt(obj, "spec", "selector")
		if r.Name != "web" && (rewrite.MapAt(obj, "spec")["type"] != "ClusterIP" || rewrite.MapAt(obj, "spec")["clusterIP"] != nil || strings.Contains(r.Raw, "nodePort")) {
			t.Errorf("%s is not a plain ClusterIP twin:\n%s", r.Name, r.Raw)
		}
	}
	if sel["web-stable"]["pod-template-hash"] != "5d9f7c" || sel["web-stable"]["app"] != "web" {
		t.Errorf("web-stable selects %v", sel["web-stable"])
	}
	if sel["web-canary"][TrackLabel] != TrackCanary || sel["web-canary"]["app"] != "web" {
		t.Errorf("web-canary selects %v", sel["web-canary"])
	}
	if got, _ := RoutedServices(out); strings.Join(got, ",") != "web" {
		t.Errorf("RoutedServices = %v", got)
	}
	for _, tc := range []struct {
		svcs   []string
		hashes map[string]string
		err    string
	}{
		{[]string{"api"}, map[string]string{"web": "x"}, "no Service api"},
		{[]string{"web"}, nil, "no ReplicaSet yet"},
	} {
		if _, err := TrackServices(routedChart, tc.svcs, tc.hashes); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: err %v, want %q", tc.svcs, err, tc.err)
		}
	}
	two := routedChart + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: worker}\nspec:\n  template: {metadata: {labels: {app: web, role: worker}}}\n"
	if _, err := TrackServices(two, []string{"web"}, map[string]string{"web": "x"}); err == nil || !strings.Contains(err.Error(), "web, worker") {
		t.Errorf("a Service over two Deployments: %v", err)
	}
}
