package strategy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/diagnose"
	"github.com/shepherd-deploy/shepherd/health"
	"github.com/shepherd-deploy/shepherd/release"
)

// fakeTracks plays the orchestrator for the canary: scripted answers, a log of calls.
type fakeTracks struct {
	fakeCluster
	first    bool
	stages   int
	failAt   int // the stage whose judge fails (-1: none)
	failSig  diagnose.Category
	notReady int // the stage whose scale-up never gets ready (-1: none)
	promote  Revision
}

func (f *fakeTracks) FirstInstall() bool { return f.first }
func (f *fakeTracks) Stages() int        { return f.stages }
func (f *fakeTracks) UpgradeCanary(context.Context) (Revision, error) {
	f.calls = append(f.calls, "canary")
	return f.upgrade, f.upgradeE
}
func (f *fakeTracks) SetStage(_ context.Context, i int) (health.Result, error) {
	f.calls = append(f.calls, fmt.Sprintf("stage%d", i+1))
	if i == f.notReady {
		return health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}, nil
	}
	return health.Result{Ready: true}, nil
}
func (f *fakeTracks) Judge(_ context.Context, i int) (*diagnose.Signal, error) {
	f.calls = append(f.calls, fmt.Sprintf("judge%d", i+1))
	if i == f.failAt {
		return &diagnose.Signal{Category: f.failSig, Reason: "ErrorRate"}, nil
	}
	return nil, nil
}
func (f *fakeTracks) Pause(_ context.Context, rev, i int) {
	f.calls = append(f.calls, fmt.Sprintf("pause %d after stage%d", rev, i+1))
}
func (f *fakeTracks) PromoteStable(context.Context) (Revision, error) {
	f.calls = append(f.calls, "promote")
	return f.promote, nil
}
func (f *fakeTracks) Retire(context.Context) error {
	f.calls = append(f.calls, "retire")
	return nil
}
func (f *fakeTracks) Abort(context.Context, *Failure) error {
	f.calls = append(f.calls, "abort")
	return nil
}
func (f *fakeTracks) Diagnose(context.Context, *Failure) { f.calls = append(f.calls, "diagnose") }
func (f *fakeTracks) Settle(_ context.Context, fl *Failure, _ error) {
	f.calls = append(f.calls, fmt.Sprintf("settle stage%d", fl.Stage+1))
}

func TestCanary(t *testing.T) {
	wl := release.Workloads{Deployments: []string{"web-canary"}}
	ready := health.Result{Ready: true}
	base := func() fakeTracks {
		return fakeTracks{fakeCluster: fakeCluster{upgrade: Revision{2, wl}, watch: ready}, stages: 3, failAt: -1, notReady: -1,
			promote: Revision{3, release.Workloads{Deployments: []string{"web"}}}}
	}
	for _, tc := range []struct {
		name   string
		edit   func(*fakeTracks)
		auto   bool
		deploy string // the calls of Deploy
		undo   string // the calls of Undo ("" when Deploy succeeded or paused)
		paused bool
	}{
		{"every stage passes: promoted, the canary retired", nil, true,
			"canary stage1 judge1 stage2 judge2 stage3 judge3 promote watch health retire", "", false},
		{"metrics fail at stage 2: traffic off the canary first, then the diagnosis", func(f *fakeTracks) { f.failAt, f.failSig = 1, diagnose.Analysis }, true,
			"canary stage1 judge1 stage2 judge2", "abort diagnose settle stage2", false},
		{"pods fail during stage 1: diagnosed while the evidence exists", func(f *fakeTracks) { f.failAt, f.failSig = 0, diagnose.CrashLoop }, true,
			"canary stage1 judge1", "diagnose abort settle stage1", false},
		{"the canary never gets ready", func(f *fakeTracks) { f.notReady = 0 }, true,
			"canary stage1", "diagnose abort settle stage1", false},
		{"the gate: paused after the last stage below 100%", nil, false,
			"canary stage1 judge1 stage2 judge2 pause 2 after stage2", "", true},
		{"the promotion fails its rollout: a Helm rollback", func(f *fakeTracks) {
			f.watch = health.Result{Signals: []diagnose.Signal{{Category: diagnose.CrashLoop}}}
		}, true,
			"canary stage1 judge1 stage2 judge2 stage3 judge3 promote watch", "rollback 3", false},
		{"first install: a rolling deploy", func(f *fakeTracks) { f.first = true }, true,
			"info canary upgrade watch info watch health", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			if tc.edit != nil {
				tc.edit(&f)
			}
			k := Canary{AutoPromote: tc.auto}
			res := k.Deploy(context.Background(), &f)
			if got := strings.Join(f.calls, " "); got != tc.deploy {
				t.Fatalf("deploy calls:\n got %s\nwant %s", got, tc.deploy)
			}
			if res.Paused != tc.paused {
				t.Fatalf("paused %v, want %v", res.Paused, tc.paused)
			}
			if (res.Failure == nil) != (tc.undo == "") {
				t.Fatalf("failure %+v, want undo %q", res.Failure, tc.undo)
			}
			if res.Failure == nil {
				return
			}
			f.calls = nil
			k.Undo(context.Background(), &f, res.Failure)
			if got := strings.Join(f.calls, " "); got != tc.undo {
				t.Errorf("undo calls:\n got %s\nwant %s", got, tc.undo)
			}
		})
	}
}

// Resume is mode promote: from the stage after the one the gate stopped at, to promotion.
func TestCanaryResume(t *testing.T) {
	f := fakeTracks{fakeCluster: fakeCluster{watch: health.Result{Ready: true}}, stages: 5, failAt: -1, notReady: -1, promote: Revision{Number: 4}}
	if res := (Canary{AutoPromote: true}).Resume(context.Background(), &f, 3, 4); res.Failure != nil || res.Paused {
		t.Fatalf("%+v", res)
	}
	if got := strings.Join(f.calls, " "); got != "stage5 judge5 promote watch health retire" {
		t.Errorf("calls %s", got)
	}
}

func TestCanarize(t *testing.T) {
	rendered := `---
# Source: app/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 4
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: app:2.0.0
`
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
