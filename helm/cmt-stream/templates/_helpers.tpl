{{/* The FlinkDeployment's name, also Flink's kubernetes.cluster-id: at most 45 characters, DNS-1123. */}}
{{- define "cmt-stream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cmt-stream.labels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Where the job's config file is mounted (and read by --config). */}}
{{- define "cmt-stream.configPath" -}}/etc/cmt-stream/cmt-stream.properties{{- end -}}

{{/* Root URI of checkpoints, savepoints and HA metadata. */}}
{{- define "cmt-stream.stateRoot" -}}
{{- if eq .Values.storage.type "s3" -}}
{{- if not .Values.storage.s3.bucket -}}
{{- fail "storage.s3.bucket is required when storage.type is s3 (the default): checkpoints, savepoints and HA metadata need storage every pod reaches. Or set storage.type=pvc with storage.pvc.storageClassName (a ReadWriteMany class) or storage.pvc.existingClaim" -}}
{{- end -}}
{{- printf "s3://%s/%s/%s" .Values.storage.s3.bucket (trimAll "/" .Values.storage.s3.prefix) (include "cmt-stream.fullname" .) -}}
{{- else if eq .Values.storage.type "pvc" -}}
{{- if not (or .Values.storage.pvc.existingClaim .Values.storage.pvc.storageClassName) -}}
{{- fail "storage.pvc.storageClassName is required when storage.type is pvc and no storage.pvc.existingClaim is given: name a class that provisions ReadWriteMany volumes (a claim on the default class stays Pending where that class is ReadWriteOnce block storage), or use storage.type=s3" -}}
{{- end -}}
{{- printf "file://%s/%s" (trimSuffix "/" .Values.storage.pvc.mountPath) (include "cmt-stream.fullname" .) -}}
{{- else -}}
{{- fail (printf "storage.type must be s3 or pvc, not %q" .Values.storage.type) -}}
{{- end -}}
{{- end -}}

{{- define "cmt-stream.pvcName" -}}
{{- default (printf "%s-state" (include "cmt-stream.fullname" .)) .Values.storage.pvc.existingClaim -}}
{{- end -}}

{{/*
Flink's Java 17 exports/opens (the value of env.java.opts.all in Flink 2.2's default configuration, which the
operator's configuration replaces) plus DJL's offline switch (the image also sets DJL_OFFLINE=true) and the Vector API
module of the memory bank's SIMD matching kernel.
*/}}
{{- define "cmt-stream.javaOpts" -}}
--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED -Dai.djl.offline=true --add-modules=jdk.incubator.vector
{{- end -}}
