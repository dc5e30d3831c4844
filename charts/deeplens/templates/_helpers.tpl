{{/* ---------------------------------------------------------------- names */}}

{{- define "deeplens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Infrastructure resources (MinIO, PostgreSQL, Redis, Secrets) are named after the release. */}}
{{- define "deeplens.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "deeplens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of a step's Knative Service (and of its Triggers' prefix): prefix + step. */}}
{{- define "deeplens.stepName" -}}
{{- printf "%s%s" .root.Values.functionNamePrefix .step | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* ---------------------------------------------------------------- labels */}}

{{- define "deeplens.labels" -}}
helm.sh/chart: {{ include "deeplens.chart" . }}
app.kubernetes.io/name: {{ include "deeplens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: deeplens
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "minio") */}}
{{- define "deeplens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "deeplens.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* ---------------------------------------------------------------- routing table */}}

{{/* The routing table (files/routes.json, generated from eventing/routing.py) as JSON. */}}
{{- define "deeplens.routes" -}}
{{- $routes := .Files.Get "files/routes.json" | fromJsonArray }}
{{- if not $routes }}
{{- fail "files/routes.json is missing or empty: run `python charts/render_routes.py`" }}
{{- end }}
{{- toJson $routes }}
{{- end }}

{{/* Every step that gets a Knative Service: the routing table's subscribers, in table order, plus deadletter. */}}
{{- define "deeplens.steps" -}}
{{- $steps := list }}
{{- range (include "deeplens.routes" . | fromJsonArray) }}
{{- if not (has .subscriber $steps) }}
{{- $steps = append $steps .subscriber }}
{{- end }}
{{- end }}
{{- if not (has "deadletter" $steps) }}
{{- $steps = append $steps "deadletter" }}
{{- end }}
{{- toJson $steps }}
{{- end }}

{{/* ---------------------------------------------------------------- image and security */}}

{{- define "deeplens.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "deeplens.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* ---------------------------------------------------------------- endpoints */}}

{{- define "deeplens.secretName" -}}
{{- default (printf "%s-credentials" (include "deeplens.fullname" .)) .Values.credentials.existingSecret }}
{{- end }}

{{- define "deeplens.configName" -}}
{{- printf "%s-config" (include "deeplens.fullname" .) }}
{{- end }}

{{- define "deeplens.minioName" -}}
{{- printf "%s-minio" (include "deeplens.fullname" .) }}
{{- end }}

{{- define "deeplens.postgresqlName" -}}
{{- printf "%s-postgresql" (include "deeplens.fullname" .) }}
{{- end }}

{{- define "deeplens.redisName" -}}
{{- printf "%s-redis" (include "deeplens.fullname" .) }}
{{- end }}

{{- define "deeplens.predictorName" -}}
{{- printf "%s-embedder" (include "deeplens.fullname" .) | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "deeplens.s3Endpoint" -}}
{{- if .Values.s3.external }}
{{- required "s3.external is true: set s3.endpoint" .Values.s3.endpoint }}
{{- else }}
{{- printf "http://%s.%s.svc.cluster.local:9000" (include "deeplens.minioName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* DEEPLENS_S3_ANNOUNCE: off where MinIO's webhook announces uploads, on with an external S3, unless set. */}}
{{- define "deeplens.s3Announce" -}}
{{- if kindIs "bool" .Values.s3.announce }}
{{- .Values.s3.announce }}
{{- else }}
{{- .Values.s3.external }}
{{- end }}
{{- end }}

{{/* Where MinIO POSTs bucket notifications: the ingest step's Knative Service. */}}
{{- define "deeplens.ingestUrl" -}}
{{- if .Values.minio.notify.endpoint }}
{{- .Values.minio.notify.endpoint }}
{{- else }}
{{- printf "http://%s.%s.svc.cluster.local" (include "deeplens.stepName" (dict "root" . "step" "ingest")) .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "deeplens.brokerUrl" -}}
{{- printf "http://broker-ingress.knative-eventing.svc.cluster.local/%s/%s" .Release.Namespace .Values.eventing.broker.name }}
{{- end }}

{{/* Base URL of the embedding server (Open Inference Protocol v2), "" = in-process. */}}
{{- define "deeplens.predictorUrl" -}}
{{- if .Values.predictor.url }}
{{- .Values.predictor.url }}
{{- else if .Values.predictor.enabled }}
{{- printf "http://%s-predictor.%s.svc.cluster.local" (include "deeplens.predictorName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "deeplens.redisUrl" -}}
{{- if .Values.redis.externalUrl }}
{{- .Values.redis.externalUrl }}
{{- else if .Values.redis.enabled }}
{{- printf "redis://%s.%s.svc.cluster.local:6379/0" (include "deeplens.redisName" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- credentials */}}

{{/*
Deterministic default passwords, derived from the namespace and release name so that
upgrades keep them (no `lookup`, no randomness). Anyone who knows both names can derive
them: set minio.rootPassword / postgresql.auth.password, or credentials.existingSecret,
in production.
*/}}
{{- define "deeplens.derivedPassword" -}}
{{- printf "deeplens/%s/%s/%s" .root.Release.Namespace .root.Release.Name .purpose | sha256sum | trunc 32 }}
{{- end }}

{{- define "deeplens.postgresPassword" -}}
{{- default (include "deeplens.derivedPassword" (dict "root" . "purpose" "postgresql")) .Values.postgresql.auth.password }}
{{- end }}

{{- define "deeplens.s3AccessKey" -}}
{{- if .Values.s3.external }}
{{- .Values.s3.accessKeyId }}
{{- else }}
{{- .Values.minio.rootUser }}
{{- end }}
{{- end }}

{{- define "deeplens.s3SecretKey" -}}
{{- if .Values.s3.external }}
{{- .Values.s3.secretAccessKey }}
{{- else }}
{{- default (include "deeplens.derivedPassword" (dict "root" . "purpose" "minio")) .Values.minio.rootPassword }}
{{- end }}
{{- end }}

{{- define "deeplens.databaseUrl" -}}
{{- if .Values.postgresql.external }}
{{- .Values.postgresql.externalUrl }}
{{- else }}
{{- $auth := .Values.postgresql.auth }}
{{- printf "postgresql://%s:%s@%s.%s.svc.cluster.local:5432/%s" ($auth.username | urlquery) (include "deeplens.postgresPassword" . | urlquery) (include "deeplens.postgresqlName" .) .Release.Namespace $auth.database }}
{{- end }}
{{- end }}

{{/* True when the functions must find S3 keys in the Secret (false: external S3 with the SDK's own credential chain). */}}
{{- define "deeplens.s3KeysOptional" -}}
{{- and .Values.s3.external (not .Values.credentials.existingSecret) (not .Values.s3.accessKeyId) }}
{{- end }}

{{/* ---------------------------------------------------------------- environment */}}

{{/* Environment shared by every DeepLens container that talks to the database and the bucket. */}}
{{- define "deeplens.appEnv" -}}
{{- $secret := include "deeplens.secretName" . }}
{{- $optional := eq (include "deeplens.s3KeysOptional" .) "true" }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: DATABASE_URL
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: AWS_ACCESS_KEY_ID
      {{- if $optional }}
      optional: true
      {{- end }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: AWS_SECRET_ACCESS_KEY
      {{- if $optional }}
      optional: true
      {{- end }}
{{- end }}

{{/* Extra env (a name: value map) as a container env list. */}}
{{- define "deeplens.envMap" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Annotation that rolls pods (a new Knative revision) when the shared ConfigMap or Secret changes. */}}
{{- define "deeplens.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/config.yaml") . | sha256sum }}
{{- end }}
