{{/*
The service blocks, in a fixed order. Every per-service template ranges over this.
*/}}
{{- define "phonebill.serviceKeys" -}}
auth billInquiry productChange kosMock
{{- end }}

{{/* Chart name and version label value. */}}
{{- define "phonebill.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Resource name of a service: its binary name, which is the seed's service name (4.4:
auth-service.phonebill-prod.svc.cluster.local, ...). Not prefixed with the release name, so
one release per namespace. Call with (dict "root" $ "svc" $svc).
*/}}
{{- define "phonebill.fullname" -}}
{{- .svc.binary | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Service account of a service: <binary>-sa (seed 7.2.2). (dict "root" $ "svc" $svc) */}}
{{- define "phonebill.serviceAccountName" -}}
{{- printf "%s-sa" (include "phonebill.fullname" .) | trunc 63 }}
{{- end }}

{{/* <release>-<short name> for a service known only by its short name. (dict "root" $ "name" "auth") */}}
{{- define "phonebill.fullnameOf" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels. (dict "root" $ "name" <short name>) */}}
{{- define "phonebill.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Common labels. (dict "root" $ "svc" $svc) */}}
{{- define "phonebill.labels" -}}
{{ include "phonebill.selectorLabels" (dict "root" .root "name" .svc.name) }}
app.kubernetes.io/part-of: phonebill
app.kubernetes.io/version: {{ include "phonebill.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "phonebill.chart" .root }}
tier: application
{{- end }}

{{/* Labels for release-wide objects (no component). */}}
{{- define "phonebill.releaseLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: phonebill
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "phonebill.chart" . }}
{{- end }}

{{/* Image tag of a service. (dict "root" $ "svc" $svc) */}}
{{- define "phonebill.imageTag" -}}
{{- $img := .svc.image | default dict }}
{{- $img.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/* Full image reference. (dict "root" $ "svc" $svc) */}}
{{- define "phonebill.image" -}}
{{- $v := .root.Values.image }}
{{- $img := .svc.image | default dict }}
{{- $repo := printf "%s/%s" $v.repositoryPrefix .svc.binary }}
{{- if $v.registry }}{{ $repo = printf "%s/%s" $v.registry $repo }}{{ end }}
{{- $ref := printf "%s:%s" $repo (include "phonebill.imageTag" .) }}
{{- if $img.digest }}{{ $ref = printf "%s@%s" $ref $img.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/* Name of the Secret holding a service's secret env vars. */}}
{{- define "phonebill.envSecretName" -}}
{{- printf "%s-env" (include "phonebill.fullname" .) }}
{{- end }}

{{/* Name of the JWT key Secret / SecretProviderClass for auth. */}}
{{- define "phonebill.jwtName" -}}
{{- printf "%s-jwt" (include "phonebill.fullname" .) }}
{{- end }}

{{/* The workload API object a HPA targets. */}}
{{- define "phonebill.scaleTarget" -}}
{{- if .root.Values.rollouts.enabled }}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
{{- else }}
apiVersion: apps/v1
kind: Deployment
{{- end }}
name: {{ include "phonebill.fullname" . }}
{{- end }}

{{- /*
The private CA (values privateCa): the Secret's ca.crt mounted read-only in a container.
"phonebill.privateCaMount" / "phonebill.privateCaVolume" render nothing when
privateCa.secretName is empty (the default: production trusts Azure's public CAs).
*/}}
{{- define "phonebill.privateCaMount" -}}
{{- if .Values.privateCa.secretName }}
- name: private-ca
  mountPath: {{ .Values.privateCa.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "phonebill.privateCaVolume" -}}
{{- if .Values.privateCa.secretName }}
- name: private-ca
  secret:
    secretName: {{ .Values.privateCa.secretName }}
    items:
      - key: ca.crt
        path: ca.crt
    defaultMode: 0444
{{- end }}
{{- end }}
