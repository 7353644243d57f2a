package examples_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	chartDir = "chart"
	release  = "web"
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// render renders the chart as `helm install web ./chart -n staging` would,
// with vals over the chart's values.yaml.
func render(t *testing.T, vals map[string]any) map[string]string {
	t.Helper()
	out, err := tryRender(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out
}

func tryRender(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: release, Namespace: "staging", Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatalf("render values: %v", err)
	}
	return engine.Render(ch, rv)
}

// valuesYAML parses vals as a values file.
func valuesYAML(t *testing.T, vals string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(vals))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return v
}

// decode strictly decodes a rendered template, so a misspelt field fails the test.
func decode[T any](t *testing.T, out map[string]string, template string) T {
	t.Helper()
	var obj T
	src, ok := out["example-app/templates/"+template]
	if !ok {
		t.Fatalf("no %s in the rendered chart (have %v)", template, slices.Sorted(maps.Keys(out)))
	}
	if err := yaml.UnmarshalStrict([]byte(src), &obj); err != nil {
		t.Fatalf("decode %s: %v\n%s", template, err, src)
	}
	return obj
}

func container(t *testing.T, d appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func TestChartMetadata(t *testing.T) {
	ch := loadChart(t)
	m := ch.Metadata
	if m.APIVersion != "v2" || m.Name != "example-app" || m.Version != "0.1.0" || m.AppVersion != "1.0.0" {
		t.Errorf("Chart.yaml = apiVersion %q name %q version %q appVersion %q, want v2 example-app 0.1.0 1.0.0",
			m.APIVersion, m.Name, m.Version, m.AppVersion)
	}
}

func TestChartLint(t *testing.T) {
	for _, vals := range []map[string]any{nil, valuesYAML(t, secretValues)} {
		linter := lint.All(chartDir, vals, "staging", false)
		for _, msg := range linter.Messages {
			if msg.Severity >= support.WarningSev {
				t.Errorf("helm lint: %v", msg)
			} else {
				t.Log(msg)
			}
		}
	}
}

func TestChartDefaults(t *testing.T) {
	out := render(t, nil)
	d := decode[appsv1.Deployment](t, out, "deployment.yaml")
	c := container(t, d)

	if d.Name != release {
		t.Errorf("name = %q, want the release name %q", d.Name, release)
	}
	if c.Image != "ghcr.io/shepherd-deploy/example-app:1.0.0" {
		t.Errorf("image = %q", c.Image)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy = %q", c.ImagePullPolicy)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	if d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds != 600 {
		t.Errorf("progressDeadlineSeconds = %v, want 600", d.Spec.ProgressDeadlineSeconds)
	}

	// Rolling update that never drops below the desired count.
	s := d.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxSurge == nil || *s.RollingUpdate.MaxSurge != intstr.FromString("25%") ||
		s.RollingUpdate.MaxUnavailable == nil || *s.RollingUpdate.MaxUnavailable != intstr.FromInt32(0) {
		t.Errorf("strategy = %+v, want RollingUpdate maxSurge 25%% maxUnavailable 0", s)
	}

	// Probes call /api/health on the named port.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports = %+v, want http 8080", c.Ports)
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe = %+v, want httpGet", name, p)
			continue
		}
		if p.HTTPGet.Path != "/api/health" || p.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("%s probe httpGet = %s on %s, want /api/health on http", name, p.HTTPGet.Path, p.HTTPGet.Port.String())
		}
	}
	if r := c.ReadinessProbe; r != nil && (r.InitialDelaySeconds != 2 || r.PeriodSeconds != 2 || r.FailureThreshold != 3) {
		t.Errorf("readiness timing = %d/%d/%d, want 2/2/3", r.InitialDelaySeconds, r.PeriodSeconds, r.FailureThreshold)
	}
	if l := c.LivenessProbe; l != nil && (l.InitialDelaySeconds != 5 || l.PeriodSeconds != 10 || l.FailureThreshold != 3) {
		t.Errorf("liveness timing = %d/%d/%d, want 5/10/3", l.InitialDelaySeconds, l.PeriodSeconds, l.FailureThreshold)
	}

	if got := c.Resources.Requests.Cpu().String(); got != "50m" {
		t.Errorf("cpu request = %s, want 50m", got)
	}
	if got := c.Resources.Limits.Memory().String(); got != "128Mi" {
		t.Errorf("memory limit = %s, want 128Mi", got)
	}

	// The app learns its version and port from the chart.
	if v := envVar(c, "VERSION"); v == nil || v.Value != "1.0.0" {
		t.Errorf("env VERSION = %+v, want 1.0.0", v)
	}
	if v := envVar(c, "PORT"); v == nil || v.Value != "8080" {
		t.Errorf("env PORT = %+v, want 8080", v)
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("default values: unexpected env from a secret: %+v", e)
		}
	}
	if len(d.Spec.Template.Spec.ImagePullSecrets) != 0 {
		t.Errorf("imagePullSecrets = %v, want none", d.Spec.Template.Spec.ImagePullSecrets)
	}

	// Prometheus finds the pods.
	wantAnn := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}
	if got := d.Spec.Template.Annotations; !maps.Equal(got, wantAnn) {
		t.Errorf("pod annotations = %v, want %v", got, wantAnn)
	}

	// The selector is name + instance only, and the pods carry it.
	wantSel := map[string]string{"app.kubernetes.io/name": "example-app", "app.kubernetes.io/instance": release}
	if d.Spec.Selector == nil || !maps.Equal(d.Spec.Selector.MatchLabels, wantSel) || len(d.Spec.Selector.MatchExpressions) != 0 {
		t.Errorf("selector = %+v, want matchLabels %v", d.Spec.Selector, wantSel)
	}
	for k, v := range wantSel {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("pod label %s = %q, want %q", k, d.Spec.Template.Labels[k], v)
		}
	}
	wantLabels := map[string]string{
		"app.kubernetes.io/name":       "example-app",
		"app.kubernetes.io/instance":   release,
		"app.kubernetes.io/version":    "1.0.0",
		"app.kubernetes.io/managed-by": "Helm",
		"helm.sh/chart":                "example-app-0.1.0",
	}
	if !maps.Equal(d.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", d.Labels, wantLabels)
	}

	svc := decode[corev1.Service](t, out, "service.yaml")
	if svc.Name != release || svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("service %q type %q, want %q ClusterIP", svc.Name, svc.Spec.Type, release)
	}
	if !maps.Equal(svc.Spec.Selector, wantSel) {
		t.Errorf("service selector = %v, want %v", svc.Spec.Selector, wantSel)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") {
		t.Errorf("service ports = %+v, want 80 -> http", svc.Spec.Ports)
	}

	if notes := out["example-app/templates/NOTES.txt"]; !strings.Contains(notes, "port-forward svc/"+release) {
		t.Errorf("NOTES.txt = %q", notes)
	}
}

const secretValues = `
env:
  FAIL_RATE: 0.1
  LOG_FORMAT: json
secretEnv:
  - {name: DATABASE_URL, secret: app-db, key: url}
  - {name: API_TOKEN, secret: api, key: token}
imagePullSecrets:
  - name: ghcr-pull
`

func TestChartSecretEnv(t *testing.T) {
	d := decode[appsv1.Deployment](t, render(t, valuesYAML(t, secretValues)), "deployment.yaml")
	c := container(t, d)

	for _, want := range []struct{ name, secret, key string }{
		{"DATABASE_URL", "app-db", "url"},
		{"API_TOKEN", "api", "token"},
	} {
		e := envVar(c, want.name)
		if e == nil || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("env %s = %+v, want valueFrom.secretKeyRef", want.name, e)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref.Name != want.secret || ref.Key != want.key {
			t.Errorf("env %s secretKeyRef = %s/%s, want %s/%s", want.name, ref.Name, ref.Key, want.secret, want.key)
		}
	}
	if e := envVar(c, "FAIL_RATE"); e == nil || e.Value != "0.1" {
		t.Errorf("env FAIL_RATE = %+v, want \"0.1\"", e)
	}
	if e := envVar(c, "LOG_FORMAT"); e == nil || e.Value != "json" {
		t.Errorf("env LOG_FORMAT = %+v, want json", e)
	}
	if e := envVar(c, "VERSION"); e == nil || e.Value != "1.0.0" {
		t.Errorf("env VERSION = %+v, want 1.0.0", e)
	}
	if got := d.Spec.Template.Spec.ImagePullSecrets; len(got) != 1 || got[0].Name != "ghcr-pull" {
		t.Errorf("imagePullSecrets = %v, want [ghcr-pull]", got)
	}
	// The rest is unchanged.
	if c.Image != "ghcr.io/shepherd-deploy/example-app:1.0.0" || *d.Spec.Replicas != 3 || c.ReadinessProbe.HTTPGet.Path != "/api/health" {
		t.Errorf("image %q replicas %d readiness %q changed by secretEnv", c.Image, *d.Spec.Replicas, c.ReadinessProbe.HTTPGet.Path)
	}
}

func TestChartSecretEnvNeedsAllFields(t *testing.T) {
	_, err := tryRender(t, valuesYAML(t, "secretEnv: [{name: DATABASE_URL, secret: app-db}]"))
	if err == nil || !strings.Contains(err.Error(), "needs a key") {
		t.Errorf("secretEnv without key: err = %v, want 'needs a key'", err)
	}
}

// TestChartImageTagSet sets the tag the way a deploy does (--set image.tag=<sha>),
// including a SHA prefix that --set parses as a number.
func TestChartImageTagSet(t *testing.T) {
	for _, tag := range []string{"3f2a9c1d0b7e4f5a6b8c9d0e1f2a3b4c5d6e7f80", "1234567"} {
		vals := map[string]any{}
		if err := strvals.ParseInto("image.tag="+tag+",replicaCount=2", vals); err != nil {
			t.Fatal(err)
		}
		d := decode[appsv1.Deployment](t, render(t, vals), "deployment.yaml")
		c := container(t, d)
		if want := "ghcr.io/shepherd-deploy/example-app:" + tag; c.Image != want {
			t.Errorf("image = %q, want %q", c.Image, want)
		}
		if e := envVar(c, "VERSION"); e == nil || e.Value != tag {
			t.Errorf("env VERSION = %+v, want %s", e, tag)
		}
		if got := d.Spec.Template.Labels["app.kubernetes.io/version"]; got != tag {
			t.Errorf("version label = %q, want %s", got, tag)
		}
		if *d.Spec.Replicas != 2 {
			t.Errorf("replicas = %d, want 2", *d.Spec.Replicas)
		}
	}
}

func TestChartEmptyTagUsesAppVersion(t *testing.T) {
	d := decode[appsv1.Deployment](t, render(t, valuesYAML(t, `image: {tag: ""}`)), "deployment.yaml")
	if c := container(t, d); c.Image != "ghcr.io/shepherd-deploy/example-app:1.0.0" {
		t.Errorf("image = %q, want the appVersion tag", c.Image)
	}
}

func TestChartFullnameOverride(t *testing.T) {
	out := render(t, valuesYAML(t, "fullnameOverride: shop\ncontainerPort: 9090"))
	d := decode[appsv1.Deployment](t, out, "deployment.yaml")
	svc := decode[corev1.Service](t, out, "service.yaml")
	if d.Name != "shop" || svc.Name != "shop" {
		t.Errorf("names = %q, %q, want shop", d.Name, svc.Name)
	}
	// The instance label stays the release name, so the selector is unaffected.
	if got := d.Spec.Selector.MatchLabels["app.kubernetes.io/instance"]; got != release {
		t.Errorf("instance = %q, want %q", got, release)
	}
	c := container(t, d)
	if c.Ports[0].ContainerPort != 9090 || envVar(c, "PORT").Value != "9090" || d.Spec.Template.Annotations["prometheus.io/port"] != "9090" {
		t.Errorf("containerPort 9090 not used throughout: port %d, PORT %q, annotation %q",
			c.Ports[0].ContainerPort, envVar(c, "PORT").Value, d.Spec.Template.Annotations["prometheus.io/port"])
	}
}

func TestProductionValues(t *testing.T) {
	vals, err := chartutil.ReadValuesFile("values/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := decode[appsv1.Deployment](t, render(t, vals), "deployment.yaml")
	if *d.Spec.Replicas != 4 {
		t.Errorf("replicas = %d, want 4", *d.Spec.Replicas)
	}
	limits := container(t, d).Resources.Limits
	if got := limits.Memory().String(); got != "256Mi" {
		t.Errorf("memory limit = %s, want 256Mi", got)
	}
}

// config.greeting: a ConfigMap read as env and as a mounted file; off, none of it renders.
func TestChartConfig(t *testing.T) {
	out := render(t, valuesYAML(t, "config: {greeting: hello}\n"))
	cm := decode[corev1.ConfigMap](t, out, "configmap.yaml")
	if cm.Data["greeting"] != "hello" {
		t.Errorf("ConfigMap data = %v", cm.Data)
	}
	d := decode[appsv1.Deployment](t, out, "deployment.yaml")
	c := container(t, d)
	if e := envVar(c, "GREETING"); e == nil || e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil || e.ValueFrom.ConfigMapKeyRef.Name != cm.Name {
		t.Errorf("env GREETING = %+v, want configMapKeyRef %s", e, cm.Name)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/example-app" {
		t.Errorf("volumeMounts = %+v", c.VolumeMounts)
	}
	if v := d.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].ConfigMap == nil || v[0].ConfigMap.Name != cm.Name {
		t.Errorf("volumes = %+v", v)
	}
	off := render(t, valuesYAML(t, ""))
	if strings.TrimSpace(off["configmap.yaml"]) != "" {
		t.Errorf("a ConfigMap rendered without config.greeting:\n%s", off["configmap.yaml"])
	}
}
