package release

import (
	"fmt"
	"reflect"
	"testing"
)

func TestReferences(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []Ref
		wantErr  bool
	}{
		{
			name:     "no workloads",
			manifest: "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
			want:     nil,
		},
		{
			name: "env, envFrom, init containers, volumes, imagePullSecrets",
			manifest: `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      imagePullSecrets:
        - name: registry
      initContainers:
        - name: migrate
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: db
                  key: url
      containers:
        - name: app
          env:
            - name: PLAIN
              value: x
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: db
                  key: url
            - name: LOG_LEVEL
              valueFrom:
                configMapKeyRef:
                  name: settings
                  key: level
                  optional: true
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
          envFrom:
            - secretRef:
                name: app-secrets
            - configMapRef:
                name: app-config
                optional: false
      volumes:
        - name: tls
          secret:
            secretName: web-tls
        - name: conf
          configMap:
            name: nginx
            items:
              - key: nginx.conf
                path: nginx.conf
              - key: mime.types
                path: mime.types
        - name: bundle
          projected:
            sources:
              - secret:
                  name: ca
                  optional: true
              - configMap:
                  name: trust
                  items:
                    - key: roots.pem
                      path: roots.pem
              - serviceAccountToken:
                  path: token
        - name: scratch
          emptyDir: {}
`,
			want: []Ref{
				{Kind: "Secret", Name: "db", Key: "url", From: "Deployment/web init container migrate env DATABASE_URL"},
				{Kind: "ConfigMap", Name: "settings", Key: "level", Optional: true, From: "Deployment/web container app env LOG_LEVEL"},
				{Kind: "Secret", Name: "app-secrets", From: "Deployment/web container app envFrom"},
				{Kind: "ConfigMap", Name: "app-config", From: "Deployment/web container app envFrom"},
				{Kind: "Secret", Name: "web-tls", From: "Deployment/web volume tls"},
				{Kind: "ConfigMap", Name: "nginx", Key: "nginx.conf", From: "Deployment/web volume conf"},
				{Kind: "ConfigMap", Name: "nginx", Key: "mime.types", From: "Deployment/web volume conf"},
				{Kind: "Secret", Name: "ca", Optional: true, From: "Deployment/web volume bundle (projected)"},
				{Kind: "ConfigMap", Name: "trust", Key: "roots.pem", From: "Deployment/web volume bundle (projected)"},
				{Kind: "Secret", Name: "registry", From: "Deployment/web imagePullSecrets"},
			},
		},
		{
			name: "secrets and configmaps defined in the manifest are excluded",
			manifest: `---
# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  url: postgres://
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          envFrom:
            - secretRef:
                name: db
            - configMapRef:
                name: settings
            - secretRef:
                name: external
            - configMapRef:
                name: db
`,
			want: []Ref{
				{Kind: "Secret", Name: "external", From: "Deployment/web container app envFrom"},
				{Kind: "ConfigMap", Name: "db", From: "Deployment/web container app envFrom"},
			},
		},
		{
			name: "every workload kind, namespaces, dedupe across workloads",
			manifest: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers: [{name: pg, envFrom: [{secretRef: {name: shared, optional: true}}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers: [{name: agent, envFrom: [{secretRef: {name: shared}}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      containers: [{name: migrate, envFrom: [{configMapRef: {name: job-config}}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              envFrom: [{secretRef: {name: shared}}, {configMapRef: {name: cron-config}}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: tools}
spec:
  containers: [{name: shell, envFrom: [{secretRef: {name: shared}}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: cron-config}
---
apiVersion: example.com/v1
kind: Job
metadata: {name: custom}
spec:
  template:
    spec:
      containers: [{name: x, envFrom: [{secretRef: {name: ignored}}]}]
`,
			want: []Ref{
				// The StatefulSet's reference is optional; the DaemonSet's required one takes its place.
				{Kind: "Secret", Name: "shared", From: "DaemonSet/agent container agent envFrom"},
				{Kind: "ConfigMap", Name: "job-config", From: "Job/migrate container migrate envFrom"},
				// A Secret named cron-config doesn't satisfy a ConfigMap reference.
				{Kind: "ConfigMap", Name: "cron-config", From: "CronJob/nightly container report envFrom"},
				{Kind: "Secret", Name: "shared", Namespace: "tools", From: "Pod/debug container shell envFrom"},
			},
		},
		{
			name: "optional duplicates stay optional, first From kept",
			manifest: `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  imagePullSecrets:
    - name: registry
    - name: registry
  containers:
    - name: a
      envFrom:
        - secretRef:
            name: maybe
            optional: true
    - name: b
      envFrom:
        - secretRef:
            name: maybe
            optional: true
`,
			want: []Ref{
				{Kind: "Secret", Name: "maybe", Optional: true, From: "Pod/p container a envFrom"},
				{Kind: "Secret", Name: "registry", From: "Pod/p imagePullSecrets"},
			},
		},
		{
			name: "namespaced definition only matches its namespace",
			manifest: `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: a}
---
apiVersion: v1
kind: Pod
metadata: {name: in-a, namespace: a}
spec: {containers: [{name: c, envFrom: [{secretRef: {name: creds}}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: in-b, namespace: b}
spec: {containers: [{name: c, envFrom: [{secretRef: {name: creds}}]}]}
`,
			want: []Ref{
				{Kind: "Secret", Name: "creds", Namespace: "b", From: "Pod/in-b container c envFrom"},
			},
		},
		{
			name:     "undecodable pod spec",
			manifest: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: nope\n",
			wantErr:  true,
		},
		{
			name:     "bad manifest",
			manifest: "kind: [",
			wantErr:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := References(tt.manifest)
			if (err != nil) != tt.wantErr {
				t.Fatalf("References() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("References() =\n%s\nwant\n%s", fmtRefs(got), fmtRefs(tt.want))
			}
		})
	}
}

func fmtRefs(refs []Ref) string {
	s := ""
	for _, r := range refs {
		s += fmt.Sprintf("  %+v\n", r)
	}
	return s
}
