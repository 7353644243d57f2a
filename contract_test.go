package main

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/internal/docgen"
	"github.com/shepherd-deploy/shepherd/report"
)

type actionYAML struct {
	Inputs map[string]struct {
		Default  *string `json:"default"`
		Required bool    `json:"required"`
	} `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
	Runs    struct {
		Using string `json:"using"`
		Image string `json:"image"`
	} `json:"runs"`
}

// defaults are config.Default() as input strings.
func defaults() map[string]string {
	d := config.Default()
	return map[string]string{
		config.InMode: string(d.Mode), config.InStrategy: string(d.Strategy), config.InNamespace: d.Namespace,
		config.InImageTagKey: d.ImageTagKey, config.InTimeout: "5m", config.InDryRun: "false",
		config.InVerify: "60s", config.InMaxCascade: "2", config.InLockTimeout: "5m",
		config.InAutoPromote: "true", config.InKeepCap: "true", config.InGrace: "5m", config.InSmokeTime: "60s",
		config.InGitHubToken: config.DefaultGitHubToken,
		config.InStages:      config.DefaultStages, config.InInterval: "5m", config.InErrorThresh: "5", config.InMinRequests: "20",
		config.InAlpha: "0.01", config.InBaseline: config.DefaultBaseline, config.InMaxErrorRatio: "1.5", config.InTrafficRouter: config.RouterReplicas,
	}
}

// action.yml, config.Default() and the inputs reference (docs/inputs.md, generated from
// action.yml) must agree on every input, default and output.
func TestActionContract(t *testing.T) {
	raw, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "docker" || a.Runs.Image != "Dockerfile" {
		t.Errorf("runs = %+v, want a docker action built from Dockerfile", a.Runs)
	}
	var declared []string
	for k := range a.Inputs {
		declared = append(declared, k)
	}
	sort.Strings(declared)
	want := append([]string(nil), config.Inputs...)
	sort.Strings(want)
	if strings.Join(declared, ",") != strings.Join(want, ",") {
		t.Fatalf("action.yml inputs %v != config.Inputs %v", declared, want)
	}
	for in, want := range map[string]time.Duration{config.InTimeout: config.DefaultTimeout, config.InVerify: config.DefaultVerify,
		config.InLockTimeout: config.DefaultLockTimeout, config.InGrace: config.DefaultGracePeriod, config.InSmokeTime: config.DefaultSmokeTimeout,
		config.InInterval: config.DefaultInterval} {
		if d, _ := config.ParseDuration(defaults()[in]); d != want {
			t.Fatalf("the default of %s drifted from the contract: %s != %s", in, defaults()[in], want)
		}
	}
	if !config.Default().AutoPromote {
		t.Fatal("auto_promote default drifted: false")
	}
	if config.Default().MaxCascade != 2 {
		t.Fatalf("max_cascade default drifted: %d", config.Default().MaxCascade)
	}
	ref := inputsReference(t, raw)
	defs := defaults()
	for _, in := range config.Inputs {
		got := ""
		if p := a.Inputs[in].Default; p != nil {
			got = *p
		}
		if got != defs[in] {
			t.Errorf("input %s: action.yml default %q, config default %q", in, got, defs[in])
		}
		row := regexp.MustCompile("(?m)^\\| `" + in + "` \\| (`([^`]*)` )?\\|")
		m := row.FindStringSubmatch(ref)
		if m == nil {
			t.Errorf("docs/inputs.md has no row for input %s", in)
		} else if m[2] != defs[in] {
			t.Errorf("docs/inputs.md gives %s the default %q, config says %q", in, m[2], defs[in])
		}
	}
	outs := report.Outputs(deploy.Outcome{})
	if len(outs) != len(a.Outputs) {
		t.Errorf("action.yml declares %d outputs, the reporter writes %d", len(a.Outputs), len(outs))
	}
	for k := range outs {
		if _, ok := a.Outputs[k]; !ok {
			t.Errorf("output %s is written but not declared in action.yml", k)
		}
		if !strings.Contains(ref, "| `"+k+"` |") {
			t.Errorf("docs/inputs.md has no row for output %s", k)
		}
	}
}

// updateInputs writes docs/inputs.md from action.yml (docgen.Command) instead of comparing.
var updateInputs = flag.Bool("update-inputs", false, "write docs/inputs.md from action.yml")

// inputsReference is docs/inputs.md, which must be exactly what the generator makes of
// action.yml (raw): a reference edited by hand, or an action.yml changed without
// regenerating, fails with the command that fixes it.
func inputsReference(t *testing.T, raw []byte) string {
	t.Helper()
	want, err := docgen.Inputs(raw)
	if err != nil {
		t.Fatal(err)
	}
	if *updateInputs {
		if err := os.WriteFile("docs/inputs.md", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("docs/inputs.md")
	if err != nil {
		t.Fatalf("%v: generate it with `%s`", err, docgen.Command)
	}
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(end of file)"
		}
		t.Errorf("docs/inputs.md is not what action.yml generates: run `%s`\nline %d is\n  %s\nwant\n  %s", docgen.Command, i+1, line(g), line(w))
	}
	return string(got)
}

// Every input but mode (the command is the mode) and the GitHub-native reporting is a flag of some command's --help.
func TestHelpListsEveryInputAsAFlag(t *testing.T) {
	var all strings.Builder
	for _, cmd := range []string{"deploy", "rollback", "history", "promote", "abort"} {
		if code := run(t.Context(), []string{cmd, "--help"}, func(string) string { return "" }, &all, &all); code != 0 {
			t.Fatalf("%s --help exited %d", cmd, code)
		}
	}
	// The GitHub-native reporting records a workflow run (its commit, its run page, its
	// environment): a terminal has none of them.
	// Keyless access uses the job's own OIDC token, which only a runner hands out.
	actionOnly := map[string]bool{config.InMode: true, config.InGitHubToken: true, config.InEnvironment: true, config.InEnvironmentURL: true,
		config.InProductionEnv: true, config.InTransientEnv: true, config.InSlackWebhook: true,
		config.InClusterURL: true, config.InClusterCA: true, config.InOIDCAudience: true}
	for _, in := range config.Inputs {
		flag := "--" + strings.ReplaceAll(in, "_", "-")
		if !actionOnly[in] && !strings.Contains(all.String(), flag) {
			t.Errorf("no command's help lists %s:\n%s", flag, all.String())
		}
	}
}
