package bluegreen

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/release"
	"github.com/shepherd-deploy/shepherd/strategy"
)

const bgChart = `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: example/web:2.0.0
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
    nodePort: 30080
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data: {LEVEL: info}
`

func TestNext(t *testing.T) {
	for active, want := range map[strategy.Color]strategy.Color{"": Blue, Blue: Green, Green: Blue} {
		if got := Next(active); got != want {
			t.Errorf("Next(%q) = %q, want %q", active, got, want)
		}
	}
}

func TestColorize(t *testing.T) {
	keptGreen := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-green
  labels: {app: web, shepherd.io/color: green}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web, shepherd.io/color: green}
  template:
    metadata:
      labels: {app: web, shepherd.io/color: green}
    spec:
      containers:
      - name: app
        image: example/web:1.0.0`
	for _, tc := range []struct {
		name             string
		next, active     strategy.Color
		kept             []string
		wantDeployments  map[string]string // name → image
		wantServeColor   string
		wantPreviewColor string
	}{
		{"first install: blue, the Service selects nothing until the switch", Blue, "", nil,
			map[string]string{"web-blue": "example/web:2.0.0"}, "none", "blue"},
		{"green serves: the new version goes to blue beside it", Blue, Green, []string{keptGreen},
			map[string]string{"web-blue": "example/web:2.0.0", "web-green": "example/web:1.0.0"}, "green", "blue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Colorize(bgChart, tc.next, tc.active, tc.kept, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := release.SplitManifest(out)
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out)
			}
			deps := map[string]string{}
			svcs := map[string]corev1.Service{}
			for _, r := range res {
				switch r.Kind {
				case "Deployment":
					var d appsv1.Deployment
					if err := yaml.Unmarshal([]byte(r.Raw), &d); err != nil {
						t.Fatal(err)
					}
					deps[d.Name] = d.Spec.Template.Spec.Containers[0].Image
					c := d.Name[strings.LastIndex(d.Name, "-")+1:]
					if d.Spec.Selector.MatchLabels[ColorLabel] != c || d.Spec.Template.Labels[ColorLabel] != c || d.Labels[ColorLabel] != c {
						t.Errorf("%s: colour %q not on its labels, selector and pod template: %+v", d.Name, c, d)
					}
					if d.Spec.Selector.MatchLabels["app"] != "web" {
						t.Errorf("%s lost the chart's selector labels", d.Name)
					}
				case "Service":
					var s corev1.Service
					if err := yaml.Unmarshal([]byte(r.Raw), &s); err != nil {
						t.Fatal(err)
					}
					svcs[s.Name] = s
				case "ConfigMap":
					if r.Name != "web-config" {
						t.Errorf("ConfigMap renamed to %s", r.Name)
					}
				}
			}
			if len(deps) != len(tc.wantDeployments) {
				t.Errorf("Deployments %v, want %v", deps, tc.wantDeployments)
			}
			for name, img := range tc.wantDeployments {
				if deps[name] != img {
					t.Errorf("Deployment %s runs %q, want %q", name, deps[name], img)
				}
			}
			web, prev := svcs["web"], svcs["web-preview"]
			if web.Spec.Selector[ColorLabel] != tc.wantServeColor || web.Spec.Selector["app"] != "web" || web.Spec.Type != corev1.ServiceTypeNodePort {
				t.Errorf("Service web: %+v, want it to keep its type and select %s", web.Spec, tc.wantServeColor)
			}
			if prev.Spec.Selector[ColorLabel] != tc.wantPreviewColor || prev.Spec.Type != corev1.ServiceTypeClusterIP || prev.Spec.Ports[0].NodePort != 0 {
				t.Errorf("Service web-preview: %+v, want a ClusterIP without node ports selecting %s", prev.Spec, tc.wantPreviewColor)
			}
		})
	}
	if _, err := Colorize(bgChart, Blue, Blue, nil, nil); err == nil {
		t.Error("deploying the serving colour was accepted")
	}
}
