package canary

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/strategy/sessiontest"
)

func TestCanarize(t *testing.T) {
	rendered := sessiontest.Web("2.0.0")
	stable := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: app\n        image: app:1.0.0"
	out, err := Canarize(rendered, map[string]string{"web": stable}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadTracks(out)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stable["web"] != stable || l.Replicas["web"] != 3 {
		t.Errorf("the stable track was not kept as applied: %+v", l)
	}
	c := l.Canary["web"]
	for _, want := range []string{"name: web-canary", "shepherd.io/track: canary", "replicas: 0", "image: app:2.0.0", "app: web"} {
		if !strings.Contains(c, want) {
			t.Errorf("canary document lacks %q:\n%s", want, c)
		}
	}
	if strings.Count(c, "shepherd.io/track: canary") != 3 {
		t.Errorf("the track label belongs on labels, selector and template:\n%s", c)
	}
	if !strings.Contains(out, "kind: Service") {
		t.Error("the Service was dropped")
	}
	if _, err := Canarize(rendered, map[string]string{}, nil); err == nil || !strings.Contains(err.Error(), "new in this version") {
		t.Errorf("a Deployment without a stable track: %v", err)
	}
	// The promotion: the chart as rendered, the canary kept at the replicas it runs.
	p, err := Promoted(rendered, l.Canary, map[string]int{"web": 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := ReadTracks(p)
	if !strings.Contains(pl.Stable["web"], "app:2.0.0") || pl.Replicas["web"] != 4 || !strings.Contains(pl.Canary["web"], "replicas: 4") {
		t.Errorf("promoted manifest:\n%s", p)
	}
}

func TestPodPattern(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"web-7d9f8b6c4d"}, "web-7d9f8b6c4d-[a-z0-9]{5}"},
		{[]string{"web-canary-5f6b", "api-canary-6c7d"}, "(web-canary-5f6b-[a-z0-9]{5}|api-canary-6c7d-[a-z0-9]{5})"},
		{[]string{"a.b-1"}, `a\\.b-1-[a-z0-9]{5}`},
		// A 50-character release: "<release>-canary-<hash>-" is cut to 58 characters, as the
		// API server cuts the generateName of its pods.
		{[]string{strings.Repeat("x", 50) + "-canary-5f6b7c8d9e"}, strings.Repeat("x", 50) + "-canary-[a-z0-9]{5}"},
		{nil, "^$"},
	} {
		if got := PodPattern(tc.names); got != tc.want {
			t.Errorf("PodPattern(%v) = %s, want %s", tc.names, got, tc.want)
		}
	}
}
