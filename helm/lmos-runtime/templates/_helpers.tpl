{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "lmos-runtime.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; leaves room for the longest suffix ("-migrate"). */}}
{{- define "lmos-runtime.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "lmos-runtime.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels; call with (dict "ctx" $ "component" "web"). Never change them:
Deployment selectors are immutable. */}}
{{- define "lmos-runtime.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lmos-runtime.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* All labels; call with (dict "ctx" $ "component" "web"), component may be empty. */}}
{{- define "lmos-runtime.labels" -}}
helm.sh/chart: {{ include "lmos-runtime.chart" .ctx }}
{{ include "lmos-runtime.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: lmos
{{- end -}}

{{- define "lmos-runtime.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "lmos-runtime.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lmos-runtime.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lmos-runtime.secretName" -}}
{{- default (include "lmos-runtime.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "lmos-runtime.kubernetesSource" -}}
{{- if eq (toString .Values.config.REGISTRY_SOURCE) "kubernetes" }}true{{ end -}}
{{- end -}}

{{/* Where channelroutings and agents are read when REGISTRY_SOURCE=kubernetes. */}}
{{- define "lmos-runtime.registryNamespace" -}}
{{- default .Release.Namespace (include "lmos-runtime.scalar" .Values.config.LMOS_NAMESPACE) -}}
{{- end -}}

{{- define "lmos-runtime.registryFilePath" -}}
/etc/lmos-runtime/registry/registry.yaml
{{- end -}}

{{/* A config value as an env string. YAML and --set numbers arrive as float64; whole
numbers print without an exponent (1048576, not 1.048576e+06). */}}
{{- define "lmos-runtime.scalar" -}}
{{- if kindIs "invalid" . -}}
{{- else if kindIs "float64" . -}}
{{- if eq . (floor .) }}{{ int64 . }}{{ else }}{{ . }}{{ end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap's data: every key of .Values.config, with the values the chart decides. */}}
{{- define "lmos-runtime.configData" -}}
{{- $config := deepCopy .Values.config -}}
{{- if include "lmos-runtime.kubernetesSource" . -}}
{{- $_ := set $config "LMOS_NAMESPACE" (include "lmos-runtime.registryNamespace" .) -}}
{{- end -}}
{{- if and .Values.registryFile.content (not $config.AGENT_REGISTRY_FILE) -}}
{{- $_ := set $config "AGENT_REGISTRY_FILE" (include "lmos-runtime.registryFilePath" .) -}}
{{- end -}}
{{- range $key, $value := $config }}
{{ $key }}: {{ include "lmos-runtime.scalar" $value | quote }}
{{- end }}
{{- end -}}

{{/* The Secret's data (base64). Fails early when a required secret is missing. */}}
{{- define "lmos-runtime.secretData" -}}
{{- $secrets := .Values.secrets -}}
{{- if not $secrets.DATABASE_URL -}}
{{- fail "secrets.DATABASE_URL is required (postgres://user:password@host:5432/db), or set existingSecret" -}}
{{- end -}}
{{- if not $secrets.REDIS_URL -}}
{{- fail "secrets.REDIS_URL is required (redis://host:6379/0), or set existingSecret" -}}
{{- end -}}
{{- $secretKey := $secrets.SECRET_KEY | default "" | b64enc -}}
{{- if not $secrets.SECRET_KEY -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "lmos-runtime.fullname" .) -}}
{{- $secretKey = (get (default dict $existing.data) "SECRET_KEY") | default (randAlphaNum 50 | b64enc) -}}
{{- end }}
SECRET_KEY: {{ $secretKey | quote }}
DATABASE_URL: {{ $secrets.DATABASE_URL | b64enc | quote }}
REDIS_URL: {{ $secrets.REDIS_URL | b64enc | quote }}
{{- if $secrets.OPENAI_API_KEY }}
OPENAI_API_KEY: {{ $secrets.OPENAI_API_KEY | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* Rolls the pods when the settings change. The secret's checksum is taken over the
values, not the rendered Secret, whose generated SECRET_KEY differs on every render. */}}
{{- define "lmos-runtime.checksums" -}}
checksum/config: {{ printf "%s|%s" (include "lmos-runtime.configData" .) .Values.registryFile.content | sha256sum }}
checksum/secret: {{ printf "%s|%s" (toJson .Values.secrets) .Values.existingSecret | sha256sum }}
{{- end -}}

{{/* env, envFrom, volumes shared by web, worker and beat. Call with (dict "ctx" $
"configMap" name "secret" name). */}}
{{- define "lmos-runtime.envFrom" -}}
- configMapRef:
    name: {{ .configMap }}
- secretRef:
    name: {{ .secret }}
{{- end -}}

{{- define "lmos-runtime.env" -}}
# Caches of Python packages (tokenizers, onnxruntime) go to the writable /tmp.
- name: HOME
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/.cache
{{- end -}}

{{/* Volumes: /tmp always; the registry file for web, worker and beat when given (not
for the migration hook, which runs before its ConfigMap exists). Call with
(dict "ctx" $ "registryFile" true|false). */}}
{{- define "lmos-runtime.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and .registryFile .ctx.Values.registryFile.content }}
- name: registry-file
  mountPath: {{ dir (include "lmos-runtime.registryFilePath" .ctx) }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "lmos-runtime.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .ctx.Values.tmpSizeLimit }}
{{- if and .registryFile .ctx.Values.registryFile.content }}
- name: registry-file
  configMap:
    name: {{ include "lmos-runtime.fullname" .ctx }}-registry
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by web, worker and beat. */}}
{{- define "lmos-runtime.podSpecCommon" -}}
serviceAccountName: {{ include "lmos-runtime.serviceAccountName" . }}
automountServiceAccountToken: {{ include "lmos-runtime.kubernetesSource" . | eq "true" }}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Container fields shared by every container. Call with (dict "ctx" $ "configMap"
name "secret" name "registryFile" true|false), optionally "extraEnv" (a list). */}}
{{- define "lmos-runtime.containerCommon" -}}
image: {{ include "lmos-runtime.image" .ctx }}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .ctx.Values.securityContext | nindent 2 }}
envFrom:
  {{- include "lmos-runtime.envFrom" . | nindent 2 }}
env:
  {{- include "lmos-runtime.env" .ctx | nindent 2 }}
  {{- with .extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
volumeMounts:
  {{- include "lmos-runtime.volumeMounts" . | nindent 2 }}
{{- end -}}

{{/* The worker's metrics port (WORKER_METRICS_PORT), empty when it serves none. */}}
{{- define "lmos-runtime.workerMetricsPort" -}}
{{- include "lmos-runtime.scalar" .Values.config.WORKER_METRICS_PORT -}}
{{- end -}}
