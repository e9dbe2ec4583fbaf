{{- define "controlplane.name" -}}{{ .Release.Name }}{{- end -}}
{{- define "controlplane.labels" -}}
app.kubernetes.io/part-of: controlplane
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "controlplane.image" -}}{{ .root.Values.image.registry }}/{{ .name }}:{{ .root.Values.image.tag | default .root.Chart.AppVersion }}{{- end -}}
{{- define "controlplane.redis" -}}
{{- if .Values.redis.enabled -}}{{ .Release.Name }}-redis:6379{{- else -}}{{ required "redis.external.address is required when redis.enabled is false" .Values.redis.external.address }}{{- end -}}
{{- end -}}
