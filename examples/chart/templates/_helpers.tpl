{{/*
The chart name: app.kubernetes.io/name.
*/}}
{{- define "example-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The object names: the release name, unless fullnameOverride is set.
*/}}
{{- define "example-app.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "example-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The image tag: image.tag, or the chart's appVersion when that is empty.
*/}}
{{- define "example-app.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
Selector labels. These go into the Deployment's immutable selector, so they
must never change between releases: name and instance only.
*/}}
{{- define "example-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "example-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels for every object and pod.
*/}}
{{- define "example-app.labels" -}}
helm.sh/chart: {{ include "example-app.chart" . }}
{{ include "example-app.selectorLabels" . }}
app.kubernetes.io/version: {{ include "example-app.tag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
