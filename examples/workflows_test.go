package examples_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// shepherdAction is how the example workflows use the action.
const shepherdAction = "shepherd-deploy/shepherd@v1"

// actionInputs and actionOutputs are the action's, read from action.yml: a `with` key or an
// output outside them is a typo.
var actionInputs, actionOutputs = func() ([]string, []string) {
	raw, err := os.ReadFile(filepath.Join("..", "action.yml"))
	if err != nil {
		panic(err)
	}
	var a struct {
		Inputs  map[string]any `json:"inputs"`
		Outputs map[string]any `json:"outputs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		panic(err)
	}
	var in, out []string
	for k := range a.Inputs {
		in = append(in, k)
	}
	for k := range a.Outputs {
		out = append(out, k)
	}
	slices.Sort(in)
	slices.Sort(out)
	return in, out
}()

type step struct {
	ID   string         `json:"id"`
	Name string         `json:"name"`
	Uses string         `json:"uses"`
	Run  string         `json:"run"`
	If   string         `json:"if"`
	With map[string]any `json:"with"`
	Env  map[string]any `json:"env"`
}

type job struct {
	RunsOn      any            `json:"runs-on"`
	Needs       any            `json:"needs"`
	Environment any            `json:"environment"`
	Concurrency map[string]any `json:"concurrency"`
	Steps       []step         `json:"steps"`
}

type workflow struct {
	name string
	raw  map[string]any
	on   map[string]any
	jobs map[string]job
}

// workflowFiles returns every workflow in examples/workflows.
func workflowFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("workflows/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("workflows/*.yaml")
	return append(files, more...)
}

func parseWorkflow(t *testing.T, path string) workflow {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w := workflow{name: filepath.Base(path)}
	if err := yaml.Unmarshal(src, &w.raw); err != nil {
		t.Fatalf("%s: invalid YAML: %v", path, err)
	}
	// sigs.k8s.io/yaml reads YAML 1.1, where a bare `on` key is the boolean
	// true; GitHub reads it as the string "on". Accept either.
	on, ok := w.raw["on"]
	if !ok {
		on, ok = w.raw["true"]
	}
	if !ok {
		t.Fatalf("%s: no `on`", path)
	}
	if w.on, ok = on.(map[string]any); !ok {
		t.Fatalf("%s: `on` is %T, want a mapping of events", path, on)
	}
	jobs, ok := w.raw["jobs"]
	if !ok {
		t.Fatalf("%s: no `jobs`", path)
	}
	b, err := yaml.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &w.jobs); err != nil {
		t.Fatalf("%s: jobs: %v", path, err)
	}
	if len(w.jobs) == 0 {
		t.Fatalf("%s: `jobs` is empty", path)
	}
	return w
}

// shepherdSteps returns the steps that use the action, with their jobs.
func (w workflow) shepherdSteps() (steps []step, jobs []job) {
	for _, j := range w.jobs {
		for _, s := range j.Steps {
			if s.Uses == shepherdAction {
				steps = append(steps, s)
				jobs = append(jobs, j)
			}
		}
	}
	return steps, jobs
}

func TestWorkflowsUseShepherd(t *testing.T) {
	files := workflowFiles(t)
	for _, want := range []string{"staging.yml", "production.yml", "rollback.yml"} {
		if !slices.Contains(files, filepath.Join("workflows", want)) {
			t.Errorf("missing workflows/%s (have %v)", want, files)
		}
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			w := parseWorkflow(t, path)
			if w.raw["name"] == nil {
				t.Error("no workflow name")
			}
			for name, j := range w.jobs {
				if j.RunsOn == nil {
					t.Errorf("job %s: no runs-on", name)
				}
				if len(j.Steps) == 0 {
					t.Errorf("job %s: no steps", name)
				}
				for i, s := range j.Steps {
					if (s.Uses == "") == (s.Run == "") {
						t.Errorf("job %s step %d: want exactly one of uses and run", name, i)
					}
				}
			}

			steps, _ := w.shepherdSteps()
			if len(steps) == 0 {
				t.Fatalf("no step uses %s", shepherdAction)
			}
			for _, s := range steps {
				if s.ID == "" {
					t.Errorf("the %s step has no id, so later steps can't read its outputs", shepherdAction)
				}
				for key := range s.With {
					if !slices.Contains(actionInputs, key) {
						t.Errorf("with: %q is not an input of the action (inputs: %v)", key, actionInputs)
					}
				}
				for _, key := range []string{"release", "namespace", "kubeconfig"} {
					if s.With[key] == nil {
						t.Errorf("with: no %s", key)
					}
				}
				if kc, _ := s.With["kubeconfig"].(string); !strings.Contains(kc, "secrets") {
					t.Errorf("kubeconfig = %q, want it from a secret", kc)
				}
			}
			checkOutputRefs(t, w)
		})
	}
}

// checkOutputRefs checks every steps.<id>.outputs.<name> reference to a
// Shepherd step names an output the action has.
func checkOutputRefs(t *testing.T, w workflow) {
	t.Helper()
	steps, _ := w.shepherdSteps()
	for _, s := range steps {
		prefix := "steps." + s.ID + ".outputs."
		for _, j := range w.jobs {
			for _, other := range j.Steps {
				texts := []string{other.Run, other.If}
				for _, v := range other.Env {
					if s, ok := v.(string); ok {
						texts = append(texts, s)
					}
				}
				for _, text := range texts {
					for rest := text; ; {
						i := strings.Index(rest, prefix)
						if i < 0 {
							break
						}
						rest = rest[i+len(prefix):]
						name := rest[:strings.IndexFunc(rest+" ", func(r rune) bool {
							return r != '_' && (r < 'a' || r > 'z')
						})]
						if !slices.Contains(actionOutputs, name) {
							t.Errorf("step %q reads output %q, which the action does not have", other.Name, name)
						}
					}
				}
			}
		}
	}
}

func TestStagingWorkflow(t *testing.T) {
	w := parseWorkflow(t, "workflows/staging.yml")
	push, _ := w.on["push"].(map[string]any)
	if branches, _ := push["branches"].([]any); !slices.Contains(branches, any("main")) {
		t.Errorf("on.push.branches = %v, want main", push["branches"])
	}
	steps, jobs := w.shepherdSteps()
	if len(steps) != 1 {
		t.Fatalf("%d Shepherd steps, want 1", len(steps))
	}
	s, j := steps[0], jobs[0]
	want := map[string]string{
		"namespace":  "staging",
		"image_tag":  "${{ github.sha }}",
		"kubeconfig": "${{ secrets.STAGING_KUBECONFIG }}",
	}
	for k, v := range want {
		if s.With[k] != v {
			t.Errorf("with.%s = %v, want %q", k, s.With[k], v)
		}
	}
	if s.With["health_url"] == nil {
		t.Error("no health_url")
	}
	if j.Needs == nil {
		t.Error("deploy job does not wait for the image build")
	}
	checkQueues(t, j)

	var built bool
	for _, j := range w.jobs {
		for _, st := range j.Steps {
			if strings.HasPrefix(st.Uses, "docker/build-push-action@") {
				built = true
				if tags, _ := st.With["tags"].(string); !strings.Contains(tags, "ghcr.io") || !strings.Contains(tags, "${{ github.sha }}") {
					t.Errorf("image tags = %q, want ghcr.io/...:${{ github.sha }}", tags)
				}
			}
		}
	}
	if !built {
		t.Error("no docker/build-push-action step")
	}
}

// checkQueues checks a deploy job queues behind a running one rather than cancelling it.
func checkQueues(t *testing.T, j job) {
	t.Helper()
	if j.Concurrency == nil || j.Concurrency["group"] == nil {
		t.Errorf("deploy job has no concurrency group")
	} else if j.Concurrency["cancel-in-progress"] != false {
		t.Errorf("concurrency cancel-in-progress = %v, want false", j.Concurrency["cancel-in-progress"])
	}
}

func dispatchInputs(t *testing.T, w workflow) map[string]map[string]any {
	t.Helper()
	wd, ok := w.on["workflow_dispatch"].(map[string]any)
	if !ok {
		t.Fatalf("%s: not a workflow_dispatch workflow", w.name)
	}
	raw, _ := wd["inputs"].(map[string]any)
	inputs := map[string]map[string]any{}
	for k, v := range raw {
		inputs[k], _ = v.(map[string]any)
	}
	return inputs
}

func TestProductionWorkflow(t *testing.T) {
	w := parseWorkflow(t, "workflows/production.yml")
	in := dispatchInputs(t, w)
	if s := in["deployment_strategy"]; s["type"] != "choice" || s["default"] != "rolling" ||
		!slices.Equal(s["options"].([]any), []any{"rolling", "blue-green", "canary"}) {
		t.Errorf("deployment_strategy = %v", s)
	}
	if tag := in["image_tag"]; tag["type"] != "string" || tag["required"] != true {
		t.Errorf("image_tag = %v, want a required string", tag)
	}
	if ap := in["auto_promote"]; ap["type"] != "boolean" || ap["default"] != false {
		t.Errorf("auto_promote = %v, want a boolean defaulting to false", ap)
	}

	steps, jobs := w.shepherdSteps()
	if len(steps) != 1 {
		t.Fatalf("%d Shepherd steps, want 1", len(steps))
	}
	s, j := steps[0], jobs[0]
	env := j.Environment
	if m, ok := env.(map[string]any); ok {
		env = m["name"]
	}
	if env != "production" {
		t.Errorf("environment = %v, want production", j.Environment)
	}
	if s.With["strategy"] != "${{ inputs.deployment_strategy }}" || s.With["image_tag"] != "${{ inputs.image_tag }}" {
		t.Errorf("with = %v, want strategy and image_tag from the inputs", s.With)
	}
	checkQueues(t, j)

	var onFailure bool
	for _, st := range j.Steps {
		if strings.Contains(st.If, "failure()") && strings.Contains(st.Run+fmtEnv(st.Env), "failure_reason") {
			onFailure = true
		}
	}
	if !onFailure {
		t.Error("no `if: failure()` step showing failure_reason")
	}
}

func fmtEnv(env map[string]any) string {
	var b strings.Builder
	for _, v := range env {
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

func TestRollbackWorkflow(t *testing.T) {
	w := parseWorkflow(t, "workflows/rollback.yml")
	in := dispatchInputs(t, w)
	if e := in["environment"]; e["type"] != "choice" || !slices.Equal(e["options"].([]any), []any{"staging", "production"}) {
		t.Errorf("environment input = %v", e)
	}
	if r := in["revision"]; r == nil || r["required"] == true {
		t.Errorf("revision input = %v, want optional", r)
	}
	if r := in["reason"]; r["required"] != true {
		t.Errorf("reason input = %v, want required", r)
	}
	steps, jobs := w.shepherdSteps()
	if len(steps) != 1 {
		t.Fatalf("%d Shepherd steps, want 1", len(steps))
	}
	s := steps[0]
	if s.With["mode"] != "rollback" || s.With["revision"] != "${{ inputs.revision }}" || s.With["reason"] != "${{ inputs.reason }}" {
		t.Errorf("with = %v, want mode rollback with the revision and reason inputs", s.With)
	}
	checkQueues(t, jobs[0])
	// A rollback must not queue behind the deploy it is meant to stop: its group is its own.
	group, _ := jobs[0].Concurrency["group"].(string)
	for _, other := range []string{"workflows/staging.yml", "workflows/production.yml", "workflows/promote.yml"} {
		for _, j := range parseWorkflow(t, other).jobs {
			if g, _ := j.Concurrency["group"].(string); g != "" && strings.HasPrefix(g, strings.SplitN(group, "$", 2)[0]) {
				t.Errorf("the rollback's concurrency group %q shares %s's %q: it would queue behind the deploy it stops", group, other, g)
			}
		}
	}

	src, err := os.ReadFile("workflows/rollback.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `gh workflow run rollback.yml -f environment=production -f reason="`) {
		t.Error("header comment does not show the gh workflow run invocation")
	}
}

// Every Shepherd step records its run in the job's GitHub environment: it passes github_token
// and environment, and the workflow grants deployments: write.
func TestWorkflowsRecordDeployments(t *testing.T) {
	for _, path := range workflowFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			w := parseWorkflow(t, path)
			steps, _ := w.shepherdSteps()
			for _, s := range steps {
				for _, k := range []string{"github_token", "environment", "slack_webhook_url"} {
					if s.With[k] == nil {
						t.Errorf("step %q passes no %s", s.Name, k)
					}
				}
			}
			granted := fmt.Sprint(w.raw["permissions"])
			for _, j := range w.raw["jobs"].(map[string]any) {
				if p, ok := j.(map[string]any)["permissions"]; ok {
					granted += fmt.Sprint(p)
				}
			}
			if len(steps) > 0 && !strings.Contains(granted, "deployments:write") {
				t.Errorf("permissions %s do not grant deployments: write", granted)
			}
		})
	}
}

// promote.yml finishes or aborts a deploy stopped by auto_promote: false.
func TestPromoteWorkflow(t *testing.T) {
	w := parseWorkflow(t, filepath.Join("workflows", "promote.yml"))
	in := dispatchInputs(t, w)
	if m := in["mode"]; fmt.Sprint(m["options"]) != "[promote abort]" || m["required"] != true {
		t.Errorf("mode input = %v, want a required choice of promote and abort", m)
	}
	steps, jobs := w.shepherdSteps()
	if len(steps) != 1 || steps[0].With["mode"] != "${{ inputs.mode }}" {
		t.Fatalf("want one Shepherd step with mode from the input: %+v", steps)
	}
	checkQueues(t, jobs[0])
}
