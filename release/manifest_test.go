package release

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitManifest(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []Resource
		wantErr  string
	}{
		{
			name:     "empty manifest",
			manifest: "",
			want:     nil,
		},
		{
			name: "helm style with sources",
			manifest: `---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - port: 80
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 2
`,
			want: []Resource{
				{Source: "web/templates/service.yaml", Kind: "Service", Name: "web", APIVersion: "v1",
					Raw: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80"},
				{Source: "web/templates/deployment.yaml", Kind: "Deployment", Name: "web", Namespace: "prod", APIVersion: "apps/v1",
					Raw: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  replicas: 2"},
			},
		},
		{
			name: "without sources, no leading separator, other comments kept",
			manifest: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---

# a note
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
`,
			want: []Resource{
				{Kind: "ConfigMap", Name: "a", APIVersion: "v1", Raw: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a"},
				{Kind: "ConfigMap", Name: "b", APIVersion: "v1", Raw: "# a note\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b"},
			},
		},
		{
			name: "empty and comment-only documents are skipped",
			manifest: `---
---
# Source: web/templates/disabled.yaml
---
# Source: web/templates/blank.yaml

   
---
# Source: web/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
---
`,
			want: []Resource{
				{Source: "web/templates/sa.yaml", Kind: "ServiceAccount", Name: "web", APIVersion: "v1",
					Raw: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web"},
			},
		},
		{
			name:     "separator with trailing comment, CRLF line ends",
			manifest: "--- # Source: x/templates/a.yaml\r\napiVersion: v1\r\nkind: Secret\r\nmetadata:\r\n  name: s\r\n",
			want: []Resource{
				{Source: "x/templates/a.yaml", Kind: "Secret", Name: "s", APIVersion: "v1",
					Raw: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s"},
			},
		},
		{
			name: "separator-like lines inside a document are not separators",
			manifest: `apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  a: |
    ---not a separator
    ---
`,
			// A "---" line at column 0 always ends a YAML document; indented ones don't.
			want: []Resource{
				{Kind: "ConfigMap", Name: "c", APIVersion: "v1",
					Raw: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: |\n    ---not a separator\n    ---"},
			},
		},
		{
			name: "v1 List is expanded into its items",
			manifest: `# Source: x/templates/list.yaml
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: one
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: two
      namespace: other
`,
			want: []Resource{
				{Source: "x/templates/list.yaml", Kind: "ConfigMap", Name: "one", APIVersion: "v1",
					Raw: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one"},
				{Source: "x/templates/list.yaml", Kind: "ConfigMap", Name: "two", Namespace: "other", APIVersion: "v1",
					Raw: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n  namespace: other"},
			},
		},
		{
			name:     "invalid YAML names the source",
			manifest: "# Source: x/templates/bad.yaml\nkind: [unclosed\n",
			wantErr:  "manifest document 1 (x/templates/bad.yaml)",
		},
		{
			name:     "missing kind",
			manifest: "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: ok\n---\nmetadata:\n  name: nokind\n",
			wantErr:  "manifest document 2: no kind",
		},
		{
			name:     "not a mapping",
			manifest: "just a string\n",
			wantErr:  "manifest document 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitManifest(tt.manifest)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SplitManifest() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SplitManifest() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitManifest() =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestDeployments(t *testing.T) {
	manifest := `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          image: example.com/web:1.2.3
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
---
# Source: web/templates/crd-thing.yaml
apiVersion: example.com/v1
kind: Deployment
metadata:
  name: not-a-k8s-deployment
---
# Source: web/templates/worker.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: jobs
spec:
  template:
    spec:
      containers:
        - name: worker
          image: example.com/worker:2
`
	tests := []struct {
		name      string
		manifest  string
		wantNames []string
		wantErr   bool
	}{
		{name: "deployments in manifest order", manifest: manifest, wantNames: []string{"web", "worker"}},
		{name: "none", manifest: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n", wantNames: nil},
		{name: "bad manifest", manifest: "kind: [", wantErr: true},
		{name: "undecodable deployment", manifest: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: many\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Deployments(tt.manifest)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Deployments() error = %v, wantErr %v", err, tt.wantErr)
			}
			var names []string
			for _, d := range got {
				names = append(names, d.Name)
			}
			if !reflect.DeepEqual(names, tt.wantNames) {
				t.Errorf("Deployments() names = %v, want %v", names, tt.wantNames)
			}
		})
	}

	got, err := Deployments(manifest)
	if err != nil {
		t.Fatal(err)
	}
	web, worker := got[0], got[1]
	if web.Spec.Replicas == nil || *web.Spec.Replicas != 3 {
		t.Errorf("web replicas = %v, want 3", web.Spec.Replicas)
	}
	if img := web.Spec.Template.Spec.Containers[0].Image; img != "example.com/web:1.2.3" {
		t.Errorf("web image = %q", img)
	}
	if web.Kind != "Deployment" || web.APIVersion != "apps/v1" {
		t.Errorf("web TypeMeta = %+v", web.TypeMeta)
	}
	if worker.Namespace != "jobs" || worker.Spec.Replicas != nil {
		t.Errorf("worker namespace = %q, replicas = %v", worker.Namespace, worker.Spec.Replicas)
	}
}
