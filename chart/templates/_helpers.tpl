{{/*
Names, labels and the suffix rules. These mirror hooks/naming.py, the single
source of truth; tests/chart/test_suffix_agreement.py proves they agree (same
accept/reject decision and the same message for every rule the schema cannot
express).
*/}}

{{/* The suffix: multiInstallSuffix, or upstream's env.multiInstallSuffix. */}}
{{- define "kata-deploy.suffix" -}}
{{- $top := .Values.multiInstallSuffix | default "" | toString -}}
{{- $alias := "" -}}
{{- if .Values.env -}}{{- $alias = .Values.env.multiInstallSuffix | default "" | toString -}}{{- end -}}
{{- if and $top $alias (ne $top $alias) -}}
{{- fail (printf "multiInstallSuffix=%q and env.multiInstallSuffix=%q are both set and differ. Fix: set only multiInstallSuffix (env.multiInstallSuffix is upstream's spelling, kept for old values files)." $top $alias) -}}
{{- end -}}
{{- $top | default $alias -}}
{{- end -}}

{{- define "kata-deploy.dashSuffix" -}}
{{- $s := include "kata-deploy.suffix" . -}}
{{- if $s -}}-{{ $s }}{{- end -}}
{{- end -}}

{{/* `default` for the unsuffixed install: labels and the node mark. */}}
{{- define "kata-deploy.tag" -}}
{{- include "kata-deploy.suffix" . | default "default" -}}
{{- end -}}

{{- define "kata-deploy.fullname" -}}
kata-deploy{{ include "kata-deploy.dashSuffix" . }}
{{- end -}}

{{/* Object name of a component: preflight or cleanup. */}}
{{- define "kata-deploy.componentName" -}}
{{- include "kata-deploy.fullname" .root }}-{{ .component -}}
{{- end -}}

{{- define "kata-deploy.nodeMark" -}}
kata-deploy.katacontainers.io/{{ include "kata-deploy.tag" . }}
{{- end -}}

{{- define "kata-deploy.installDir" -}}
{{- trimSuffix "/" .Values.installationPrefix }}/opt/kata{{ include "kata-deploy.dashSuffix" . }}
{{- end -}}

{{/* Handler = RuntimeClass name: kata-<shim>[-<S>][-<variant>]. Args: root, shim, variant. */}}
{{- define "kata-deploy.handler" -}}
kata-{{ .shim }}{{ include "kata-deploy.dashSuffix" .root }}{{ if .variant }}-{{ .variant }}{{ end }}
{{- end -}}

{{/* Enabled shims, sorted, comma separated. */}}
{{- define "kata-deploy.enabledShims" -}}
{{- $enabled := list -}}
{{- range $name, $shim := .Values.shims -}}
{{- if $shim.enabled -}}{{- $enabled = append $enabled $name -}}{{- end -}}
{{- end -}}
{{- $enabled | sortAlpha | join "," -}}
{{- end -}}

{{- define "kata-deploy.defaultShim" -}}
{{- .Values.defaultShim.amd64 -}}
{{- end -}}

{{/* Containerd configuration directory for the distribution (naming.DISTRIBUTIONS). */}}
{{- define "kata-deploy.containerdConfigDir" -}}
{{- $dirs := dict
  "k8s" "/etc/containerd"
  "k3s" "/var/lib/rancher/k3s/agent/etc/containerd"
  "rke2" "/var/lib/rancher/rke2/agent/etc/containerd"
  "k0s" "/etc/k0s"
  "microk8s" "/var/snap/microk8s/current/args" -}}
{{- .Values.containerd.configDir | default (get $dirs .Values.k8sDistribution) -}}
{{- end -}}

{{- define "kata-deploy.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "kata-deploy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kata-deploy.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
katacontainers.io/multi-install-suffix: {{ include "kata-deploy.tag" . | quote }}
{{- end -}}

{{- define "kata-deploy.labels" -}}
helm.sh/chart: {{ include "kata-deploy.chart" . }}
{{ include "kata-deploy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kata-deploy
{{- end -}}

{{/* Labels of a component's objects. Args: root, component. */}}
{{- define "kata-deploy.componentLabels" -}}
{{ include "kata-deploy.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* ---------------------------------------------------------------- suffix rules */}}

{{- define "kata-deploy.sortedShims" -}}
{{- keys .Values.shims | sortAlpha | join "," -}}
{{- end -}}

{{/* Tails T such that <shimA>-T is another shim (naming.shim_tails). */}}
{{- define "kata-deploy.shimTails" -}}
{{- $names := splitList "," (include "kata-deploy.sortedShims" .) -}}
{{- $tails := list -}}
{{- range $a := $names -}}
{{- range $b := $names -}}
{{- if hasPrefix (printf "%s-" $a) $b -}}{{- $tails = append $tails (trimPrefix (printf "%s-" $a) $b) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $tails | uniq | sortAlpha | join "," -}}
{{- end -}}

{{/* Suffix budget (naming.suffix_budget). Args: root, shims (list), debug. */}}
{{- define "kata-deploy.suffixBudget" -}}
{{- $longest := 0 -}}
{{- range .shims -}}{{- $longest = max $longest (len .) -}}{{- end -}}
{{- $variant := ternary 6 0 (.debug | default false) -}}
{{- $handler := sub (sub (sub 63 5) $longest) (add 1 $variant) -}}
{{- $daemonset := sub 52 12 -}}
{{- $component := sub (sub 63 12) (add 1 (len "preflight")) -}}
{{- min 32 $handler $daemonset $component -}}
{{- end -}}

{{/*
The first rule a suffix breaks that the schema cannot express, as the same
reason text naming.py gives, or "". Args: root, suffix, shims (list), debug.
*/}}
{{- define "kata-deploy.suffixProblem" -}}
{{- $s := .suffix -}}
{{- $root := .root -}}
{{- $reason := "" -}}
{{- $names := splitList "," (include "kata-deploy.sortedShims" $root) -}}
{{- if not $s -}}
{{- else if not (regexMatch "^[a-z]([a-z0-9-]*[a-z0-9])?$" $s) -}}
{{- $reason = "it must match ^[a-z]([a-z0-9-]*[a-z0-9])?$: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit" -}}
{{- if regexMatch "[A-Z_.]" $s -}}
{{- $reason = printf "%s (the seed proposal allowed '_', '.' and uppercase, as in '1.12' or '2.0', but Kubernetes names and RuntimeClass handlers do not)" $reason -}}
{{- end -}}
{{- else if gt (len $s) 32 -}}
{{- $reason = printf "it has %d characters, more than the limit of 32" (len $s) -}}
{{- else if has $s (list "default" "debug" "devkit" "kata" "deploy") -}}
{{- $reason = printf "'%s' is reserved: it names the unsuffixed install or one of its variants" $s -}}
{{- end -}}
{{- if and $s (not $reason) -}}
{{- range $shim := $names -}}
{{- if and (not $reason) (eq $s $shim) -}}
{{- $reason = printf "'%s' is a shim name, so RuntimeClass 'kata-%s' is that shim's unsuffixed handler" $s $s -}}
{{- else if and (not $reason) (hasPrefix (printf "%s-" $shim) $s) -}}
{{- $reason = printf "the default RuntimeClass 'kata-%s' would equal the handler of shim '%s' in an install with suffix '%s'" $s $shim (trimPrefix (printf "%s-" $shim) $s) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $s (not $reason) -}}
{{- range $tail := splitList "," (include "kata-deploy.shimTails" $root) -}}
{{- if and (not $reason) (or (eq $s $tail) (hasPrefix (printf "%s-" $tail) $s)) -}}
{{- $owner := "" -}}
{{- range $b := $names -}}{{- if and (not $owner) (hasSuffix (printf "-%s" $tail) $b) -}}{{- $owner = $b -}}{{- end -}}{{- end -}}
{{- $base := trimSuffix (printf "-%s" $tail) $owner -}}
{{- $other := ternary "" (trimPrefix (printf "%s-" $tail) $s) (eq $s $tail) -}}
{{- $clash := printf "the unsuffixed handler of shim '%s'" $owner -}}
{{- if $other -}}{{- $clash = printf "the handler of shim '%s' with suffix '%s'" $owner $other -}}{{- end -}}
{{- $reason = printf "handler 'kata-%s-%s' would equal %s" $base $s $clash -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $s (not $reason) -}}
{{- range $variant := list "debug" "devkit" -}}
{{- if and (not $reason) (hasSuffix (printf "-%s" $variant) $s) -}}
{{- $reason = printf "handler 'kata-<shim>-%s' would equal the %s variant of the install with suffix '%s'" $s $variant (trimSuffix (printf "-%s" $variant) $s) -}}
{{- end -}}
{{- end -}}
{{- range $component := list "preflight" "cleanup" -}}
{{- if and (not $reason) (or (eq $s $component) (hasSuffix (printf "-%s" $component) $s)) -}}
{{- $base := trimSuffix "-" (trimSuffix $component $s) -}}
{{- $owner := "unsuffixed install" -}}
{{- if $base -}}{{- $owner = printf "install with suffix '%s'" $base -}}{{- end -}}
{{- $reason = printf "object name 'kata-deploy-%s' would equal the %s objects of the %s" $s $component $owner -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $s (not $reason) -}}
{{- $budget := include "kata-deploy.suffixBudget" . | atoi -}}
{{- if gt (len $s) $budget -}}
{{- $worst := "" -}}
{{- $worstLimit := 0 -}}
{{- $checks := list (list (printf "kata-deploy-%s" $s) 52) (list $s 63) (list (printf "kata-deploy-%s" $s) 63) (list (printf "kata-deploy-%s-preflight" $s) 63) (list (printf "kata-deploy-%s-cleanup" $s) 63) -}}
{{- range $shim := .shims -}}
{{- $checks = append $checks (list (printf "kata-%s-%s" $shim $s) 63) -}}
{{- if $.debug -}}{{- $checks = append $checks (list (printf "kata-%s-%s-debug" $shim $s) 63) -}}{{- end -}}
{{- end -}}
{{- range $check := $checks -}}
{{- $name := index $check 0 -}}{{- $limit := index $check 1 -}}
{{- if and (gt (len $name) $limit) (or (not $worst) (gt (sub (len $name) $limit) (sub (len $worst) $worstLimit))) -}}
{{- $worst = $name -}}{{- $worstLimit = $limit -}}
{{- end -}}
{{- end -}}
{{- $reason = printf "derived name '%s' has %d characters, over its limit of %d; with shims %s and debug=%s the suffix budget is %d characters" $worst (len $worst) $worstLimit (join "," .shims) (ternary "on" "off" (.debug | default false)) $budget -}}
{{- end -}}
{{- end -}}
{{- $reason -}}
{{- end -}}

{{/* A valid suffix close to `suffix` (naming.suggest), or "". Args as suffixProblem. */}}
{{- define "kata-deploy.suggestSuffix" -}}
{{- $base := regexReplaceAll "[^a-z0-9]+" (lower .suffix) "-" | trimAll "-" -}}
{{- $found := "" -}}
{{- if $base -}}
{{- $first := ternary (printf "v%s" $base) $base (regexMatch "^[0-9]" $base) -}}
{{- $budget := include "kata-deploy.suffixBudget" . | atoi -}}
{{- range $candidate := list $first (printf "my-%s" $base) (printf "%s-1" $base) -}}
{{- $candidate = trunc $budget $candidate | trimSuffix "-" -}}
{{- if and (not $found) $candidate (ne $candidate $.suffix) -}}
{{- if not (include "kata-deploy.suffixProblem" (dict "root" $.root "suffix" $candidate "shims" $.shims "debug" $.debug)) -}}
{{- $found = $candidate -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $found -}}
{{- end -}}

{{/* Fail rendering, before anything is created, when the values break a rule. */}}
{{- define "kata-deploy.validate" -}}
{{- $suffix := include "kata-deploy.suffix" . -}}
{{- $shims := splitList "," (include "kata-deploy.enabledShims" .) | compact -}}
{{- if not $shims -}}
{{- fail "no shim is enabled: set shims.<name>.enabled=true for at least one shim (for example --set shims.qemu.enabled=true)" -}}
{{- end -}}
{{- $default := include "kata-deploy.defaultShim" . -}}
{{- if not (has $default $shims) -}}
{{- fail (printf "defaultShim.amd64=%q is not an enabled shim (enabled: %s). Fix: enable it with --set shims.%s.enabled=true or pick an enabled shim." $default (join "," $shims) $default) -}}
{{- end -}}
{{- $args := dict "root" . "suffix" $suffix "shims" $shims "debug" .Values.debug -}}
{{- $reason := include "kata-deploy.suffixProblem" $args -}}
{{- if $reason -}}
{{- $suggestion := include "kata-deploy.suggestSuffix" $args -}}
{{- $fix := "choose another suffix" -}}
{{- if $suggestion -}}{{- $fix = printf "use '%s' instead" $suggestion -}}{{- end -}}
{{- fail (printf "invalid multiInstallSuffix '%s': %s. Fix: %s." $suffix $reason $fix) -}}
{{- end -}}
{{- include "kata-deploy.validateUpgrade" . -}}
{{- if and .Values.installationPrefix (not (hasPrefix "/" .Values.installationPrefix)) -}}
{{- fail (printf "installationPrefix %q is relative; it must be an absolute path. Fix: use '/%s'." .Values.installationPrefix (trimPrefix "./" .Values.installationPrefix)) -}}
{{- end -}}
{{- end -}}

{{/* Per-shim hypervisor overrides of the enabled shims, as JSON for the installer. */}}
{{- define "kata-deploy.shimOverrides" -}}
{{- $overrides := dict -}}
{{- range $name, $shim := .Values.shims -}}
{{- if and $shim.enabled $shim.hypervisor -}}{{- $_ := set $overrides $name $shim.hypervisor -}}{{- end -}}
{{- end -}}
{{- toJson $overrides -}}
{{- end -}}

{{/*
Annotations of a hook object. Args: events, weight, policy. A failed Job stays
(its log says why, until ttlSecondsAfterFinished); its RBAC never does.
*/}}
{{- define "kata-deploy.hookAnnotations" -}}
helm.sh/hook: {{ .events }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: {{ .policy | default "before-hook-creation,hook-succeeded" }}
{{- end -}}

{{/*
ServiceAccount, ClusterRole(+Binding) and Role(+Binding) of a hook Job, created as
hooks before it. Args: root, component, events, clusterRules, namespacedRules.
*/}}
{{- define "kata-deploy.hookRBAC" -}}
{{- $name := include "kata-deploy.componentName" (dict "root" .root "component" .component) -}}
{{- $labels := include "kata-deploy.componentLabels" (dict "root" .root "component" .component) -}}
{{- $annotations := include "kata-deploy.hookAnnotations" (dict "events" .events "weight" -10 "policy" "before-hook-creation,hook-succeeded,hook-failed") -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    {{- $annotations | nindent 4 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    {{- $annotations | nindent 4 }}
rules:
  {{- toYaml .clusterRules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    {{- $annotations | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ .root.Release.Namespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    {{- $annotations | nindent 4 }}
rules:
  {{- toYaml .namespacedRules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    {{- $annotations | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ .root.Release.Namespace }}
{{- end -}}

{{/* The hook Job. Args: root, component, events, settings (preflight/cleanup values), args. */}}
{{- define "kata-deploy.hookJob" -}}
{{- $name := include "kata-deploy.componentName" (dict "root" .root "component" .component) -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "kata-deploy.componentLabels" (dict "root" .root "component" .component) | nindent 4 }}
  annotations:
    {{- include "kata-deploy.hookAnnotations" (dict "events" .events "weight" 0) | nindent 4 }}
    # Helm 4 streams the log of a failed hook to the user: the reason is in it.
    helm.sh/hook-output-log-policy: hook-failed
spec:
  # One pod per run: a failure is reported, never retried into a pile of pods.
  backoffLimit: 0
  activeDeadlineSeconds: {{ .settings.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ .settings.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "kata-deploy.componentLabels" (dict "root" .root "component" .component) | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      restartPolicy: Never
      {{- with .root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      nodeSelector:
        kubernetes.io/os: linux
      {{- /* The hooks may run where the installer may: with a node down, the cleanup still finds a place. */}}
      {{- with .root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "kata-deploy.image" .root }}
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          command: ["kata-deploy"]
          args:
            {{- toYaml .args | nindent 12 }}
          {{- with .settings.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            allowPrivilegeEscalation: false
            runAsNonRoot: true
            runAsUser: 65534
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
{{- end -}}

{{/*
The release's state ConfigMap: named after the release, not the suffix, so an
upgrade that changes the suffix still finds the old one.
*/}}
{{- define "kata-deploy.stateName" -}}
{{- printf "kata-deploy-state-%s" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
On an upgrade against a live cluster, refuse a changed suffix while rendering, so
no failed revision with the new names is recorded (uninstalling such a revision
would orphan the installed one). Where lookup sees nothing (helm template, client
dry-runs, GitOps renderers) rendering goes on and the preflight hook, which reads
the same state ConfigMap, is the guard.
*/}}
{{- define "kata-deploy.validateUpgrade" -}}
{{- if .Release.IsUpgrade -}}
{{- $state := lookup "v1" "ConfigMap" .Release.Namespace (include "kata-deploy.stateName" .) -}}
{{- if and $state $state.data (hasKey $state.data "multiInstallSuffix") -}}
{{- $previous := get $state.data "multiInstallSuffix" -}}
{{- $suffix := include "kata-deploy.suffix" . -}}
{{- if ne $previous $suffix -}}
{{- fail (printf "multiInstallSuffix cannot change on upgrade: release '%s' was installed with '%s' and this upgrade asks for '%s'. Its nodes, handlers and RuntimeClasses are named after '%s'. Fix: keep multiInstallSuffix='%s', or install a new release with '%s' beside this one and uninstall this one afterwards." .Release.Name $previous $suffix $previous $previous $suffix) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
