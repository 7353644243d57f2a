package rewrite_test

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/strategy/bluegreen"
	"github.com/shepherd-deploy/shepherd/strategy/canary"
)

const configChart = `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello v2
---
apiVersion: v1
kind: Secret
metadata:
  name: web-db
stringData:
  url: postgres://v2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: example-app:2.0.0
        env:
        - name: GREETING
          valueFrom:
            configMapKeyRef: {name: web-config, key: greeting}
        - name: OTHER
          valueFrom:
            configMapKeyRef: {name: made-elsewhere, key: x}
        envFrom:
        - secretRef: {name: web-db}
        volumeMounts:
        - {name: config, mountPath: /etc/app}
      volumes:
      - name: config
        configMap: {name: web-config}
      - name: db
        projected:
          sources:
          - secret: {name: web-db}
`

// Blue-green: the new colour reads copies named for it, the serving colour keeps its own.
func TestColorizeVersionsConfig(t *testing.T) {
	keptCopy := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config-blue\n  labels: {shepherd.io/color: blue}\ndata:\n  greeting: hello v1"
	out, err := bluegreen.Colorize(configChart, bluegreen.Green, bluegreen.Blue, []string{keptCopy}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := bluegreen.ReadLayout(out)
	if err != nil {
		t.Fatal(err)
	}
	green := strings.Join(l.Config[bluegreen.Green], "\n---\n")
	for _, want := range []string{"name: web-config-green", "greeting: hello v2", "name: web-db-green", "url: postgres://v2"} {
		if !strings.Contains(green, want) {
			t.Errorf("green's copies lack %q:\n%s", want, green)
		}
	}
	if len(l.Config[bluegreen.Blue]) != 1 || !strings.Contains(l.Config[bluegreen.Blue][0], "hello v1") {
		t.Errorf("blue's copy is not kept as applied: %v", l.Config[bluegreen.Blue])
	}
	dep := docNamed(t, out, "Deployment", "web-green")
	for _, want := range []string{"name: web-config-green", "name: web-db-green", "name: made-elsewhere"} {
		if !strings.Contains(dep, want) {
			t.Errorf("web-green does not reference %q:\n%s", want, dep)
		}
	}
	if strings.Contains(dep, "name: web-config\n") || strings.Contains(dep, "name: web-db\n") {
		t.Errorf("web-green still reads the unversioned config:\n%s", dep)
	}
}

// Canary: the stable track's config stays as applied until promotion; the canary reads copies.
func TestCanarizeVersionsConfig(t *testing.T) {
	stableDoc := strings.ReplaceAll(docNamed(t, configChart, "Deployment", "web"), "2.0.0", "1.0.0")
	oldConfig := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  greeting: hello v1"
	out, err := canary.Canarize(configChart, map[string]string{"web": stableDoc}, map[string]string{"ConfigMap/web-config": oldConfig})
	if err != nil {
		t.Fatal(err)
	}
	l, err := canary.ReadTracks(out)
	if err != nil {
		t.Fatal(err)
	}
	if c := l.Config["ConfigMap/web-config"]; !strings.Contains(c, "hello v1") {
		t.Errorf("the stable track's ConfigMap changed before promotion:\n%s", c)
	}
	if c := l.CanaryConfig["ConfigMap/web-config-canary"]; !strings.Contains(c, "hello v2") {
		t.Errorf("the canary's copy does not hold the new config: %v", l.CanaryConfig)
	}
	if _, ok := l.CanaryConfig["Secret/web-db-canary"]; !ok {
		t.Errorf("the canary's Secret copy is missing: %v", l.CanaryConfig)
	}
	if !strings.Contains(l.Canary["web"], "name: web-config-canary") || strings.Contains(l.Stable["web"], "web-config-canary") {
		t.Errorf("references: canary %s\nstable %s", l.Canary["web"], l.Stable["web"])
	}
	p, err := canary.Promoted(configChart, l.Canary, map[string]int{"web": 2}, l.CanaryConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p, "name: web-config-canary") || !strings.Contains(p, "greeting: hello v2") {
		t.Errorf("the promotion drops the canary's copies or the new config:\n%s", p)
	}
}

func docNamed(t *testing.T, manifest, kind, name string) string {
	t.Helper()
	for _, d := range strings.Split(manifest, "\n---\n") {
		if strings.Contains(d, "kind: "+kind) && strings.Contains(d, "name: "+name+"\n") {
			return d
		}
	}
	t.Fatalf("no %s %s in:\n%s", kind, name, manifest)
	return ""
}

// A Deployment that reads the chart's config carries its hash: a change of config alone
// changes the pod template.
func TestStampConfig(t *testing.T) {
	a, err := rewrite.StampConfig(configChart)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rewrite.StampConfig(strings.ReplaceAll(configChart, "hello v2", "hello v3"))
	if err != nil {
		t.Fatal(err)
	}
	ha, hb := docNamed(t, a, "Deployment", "web"), docNamed(t, b, "Deployment", "web")
	if !strings.Contains(ha, rewrite.ConfigHashAnnotation) || ha == hb {
		t.Errorf("the hash does not follow the config:\n%s\n---\n%s", ha, hb)
	}
}
