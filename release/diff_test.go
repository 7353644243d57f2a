package release

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

const diffDeployment = `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
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
          image: example.com/web:1.0.0
          ports:
            - containerPort: 8080
`

const diffService = `---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - port: 80
`

const diffConfigMap = `---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: prod
data:
  LOG_LEVEL: info
`

func TestDiff(t *testing.T) {
	newDeployment := strings.Replace(diffDeployment, "web:1.0.0", "web:1.1.0", 1)
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{name: "both empty", old: "", new: "", want: ""},
		{
			name: "unchanged, only the source comment and separators differ",
			old:  diffService + diffDeployment,
			new:  strings.Replace(diffDeployment, "templates/deployment.yaml", "templates/web.yaml", 1) + "---\n" + diffService,
			want: "",
		},
		{
			name: "image tag change",
			old:  diffService + diffDeployment,
			new:  diffService + newDeployment,
			want: `~ Deployment/web
        containers:
          - name: app
-           image: example.com/web:1.0.0
+           image: example.com/web:1.1.0
            ports:
              - containerPort: 8080
`,
		},
		{
			name: "added",
			old:  diffService,
			new:  diffService + diffConfigMap,
			want: `+ ConfigMap/web-config -n prod (added)
+ apiVersion: v1
+ kind: ConfigMap
+ metadata:
+   name: web-config
+   namespace: prod
+ data:
+   LOG_LEVEL: info
`,
		},
		{
			name: "removed",
			old:  diffService + diffConfigMap,
			new:  diffService,
			want: "- ConfigMap/web-config -n prod (removed)\n",
		},
		{
			name: "added, removed and changed together, ordered by kind then name",
			old:  diffService + diffDeployment,
			new:  newDeployment + diffConfigMap,
			want: `+ ConfigMap/web-config -n prod (added)
+ apiVersion: v1
+ kind: ConfigMap
+ metadata:
+   name: web-config
+   namespace: prod
+ data:
+   LOG_LEVEL: info

~ Deployment/web
        containers:
          - name: app
-           image: example.com/web:1.0.0
+           image: example.com/web:1.1.0
            ports:
              - containerPort: 8080

- Service/web (removed)
`,
		},
		{
			name: "distant hunks are separated, near ones merged",
			old:  diffDeployment,
			new: strings.NewReplacer(
				"name: web\n", "name: web\n  labels:\n    tier: front\n",
				"replicas: 2", "replicas: 3",
				"web:1.0.0", "web:1.1.0",
			).Replace(diffDeployment),
			want: `~ Deployment/web
  metadata:
    name: web
+   labels:
+     tier: front
  spec:
-   replicas: 2
+   replicas: 3
    selector:
      matchLabels:
@@
        containers:
          - name: app
-           image: example.com/web:1.0.0
+           image: example.com/web:1.1.0
            ports:
              - containerPort: 8080
`,
		},
		{
			name: "same name in different namespaces are different resources",
			old:  diffConfigMap,
			new:  strings.Replace(diffConfigMap, "namespace: prod", "namespace: staging", 1),
			want: `- ConfigMap/web-config -n prod (removed)

+ ConfigMap/web-config -n staging (added)
+ apiVersion: v1
+ kind: ConfigMap
+ metadata:
+   name: web-config
+   namespace: staging
+ data:
+   LOG_LEVEL: info
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Diff(tt.old, tt.new)
			if err != nil {
				t.Fatalf("Diff() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Diff() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestDiffHidesSecretValues(t *testing.T) {
	secret := func(data string) string {
		return "---\n# Source: web/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n" + data
	}
	old := secret("data:\n  password: aHVudGVyMg==\n  user: YWRtaW4=\n  gone: eA==\nstringData:\n  url: postgres://admin:hunter2@db/app\n")
	neu := secret("data:\n  password: c3dvcmRmaXNo\n  user: YWRtaW4=\n  added: eQ==\nstringData:\n  url: postgres://admin:swordfish@db/app\n")
	for name, tc := range map[string]struct{ old, new string }{
		"changed": {old, neu}, "added": {"", neu}, "removed": {old, ""},
	} {
		got, err := Diff(tc.old, tc.new)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"aHVudGVyMg==", "c3dvcmRmaXNo", "YWRtaW4=", "hunter2", "swordfish", "eA==", "eQ=="} {
			if strings.Contains(got, v) {
				t.Errorf("%s: the diff shows the secret value %q:\n%s", name, v, got)
			}
		}
		if name == "changed" {
			for _, want := range []string{"-   password: (hidden)", "+   password: (hidden, changed)", "+   added: (hidden)", "-   gone: (hidden)", "+   url: (hidden, changed)"} {
				if !strings.Contains(got, want) {
					t.Errorf("the diff does not say %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "user:") && !strings.Contains(got, "\n    user: (hidden)") {
				t.Errorf("an unchanged key shows as changed:\n%s", got)
			}
		}
	}
}

func TestDiffErrors(t *testing.T) {
	if _, err := Diff("kind: [", ""); err == nil || !strings.HasPrefix(err.Error(), "old manifest: ") {
		t.Errorf("bad old manifest: error = %v", err)
	}
	if _, err := Diff("", "kind: ["); err == nil || !strings.HasPrefix(err.Error(), "new manifest: ") {
		t.Errorf("bad new manifest: error = %v", err)
	}
}

// TestDiffLines checks the line diff on random inputs: it must rebuild both sides, be as
// short as an LCS allows, and list removals before additions in each run of changes.
func TestDiffLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		lines := make([]string, rng.IntN(25))
		for i := range lines {
			lines[i] = string(rune('a' + rng.IntN(4)))
		}
		return lines
	}
	for i := 0; i < 5000; i++ {
		a, b := gen(), gen()
		ops := diffLines(a, b)
		var gotA, gotB []string
		edits := 0
		for j, o := range ops {
			if o.op != '+' {
				gotA = append(gotA, o.line)
			}
			if o.op != '-' {
				gotB = append(gotB, o.line)
			}
			if o.op != ' ' {
				edits++
			}
			if j > 0 && o.op == '-' && ops[j-1].op == '+' {
				t.Fatalf("diffLines(%q, %q): addition before removal: %v", a, b, ops)
			}
		}
		if fmt.Sprint(gotA) != fmt.Sprint(a) || fmt.Sprint(gotB) != fmt.Sprint(b) {
			t.Fatalf("diffLines(%q, %q) = %v does not rebuild the inputs", a, b, ops)
		}
		if want := len(a) + len(b) - 2*lcsLen(a, b); edits != want {
			t.Fatalf("diffLines(%q, %q) has %d edits, want %d: %v", a, b, edits, want, ops)
		}
	}
}

func lcsLen(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func TestDiffLinesAllDifferent(t *testing.T) {
	var a, b []string
	const n = 1000
	for i := 0; i < n; i++ {
		a = append(a, fmt.Sprint("old", i))
		b = append(b, fmt.Sprint("new", i))
	}
	a = append([]string{"same"}, append(a, "end")...)
	b = append([]string{"same"}, append(b, "end")...)
	ops := diffLines(a, b)
	if len(ops) != 2+2*n || ops[0] != (lineOp{' ', "same"}) || ops[1].op != '-' ||
		ops[n+1].op != '+' || ops[len(ops)-1] != (lineOp{' ', "end"}) {
		t.Fatalf("diffLines with %d edits: unexpected ops (len %d)", 2*n, len(ops))
	}
}
