#!/usr/bin/env bash
# Build the Kubernetes commands (kubeadm, kubelet, kubectl, the control plane
# and kube-proxy) from the k8s.io/kubernetes Go module, with proper version
# stamps, into $CACHE_DIR/kubernetes/<version>/bin. Built once per version.
#
# k8s.io/kubernetes replaces its staging modules with local directories that
# its module zip does not contain, so `go install` cannot build it; a small
# wrapper module requires it and points every staging module at its published
# v0.<minor>.<patch> tag instead.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

out="$CACHE_DIR/kubernetes/$KUBERNETES_VERSION"
commands=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
if [[ -f $out/stamp ]]; then
  exit 0
fi
# One build at a time: a second caller waits for the first and reuses its result.
mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
  log "another Kubernetes build is running; waiting for it"
  flock 9
fi
# A copy started before this lock existed does not hold it: wait for it too.
while pgrep -f 'go build .*k8s.io/kubernetes/cmd/kubeadm' >/dev/null && [[ ! -f $out/stamp ]]; do
  sleep 10
done
if [[ -f $out/stamp ]]; then
  exit 0
fi

wrapper="$out/module"
mkdir -p "$wrapper" "$out/bin"
cd "$wrapper"
if [[ ! -f go.mod ]]; then
  go mod init local/kubernetes-build >/dev/null 2>&1
fi
log "resolving k8s.io/kubernetes $KUBERNETES_VERSION and its staging modules"
upstream_gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
# Keep the language version and GODEBUG defaults upstream builds with.
go_directive=$(awk '$1 == "go" {print $2; exit}' "$upstream_gomod")
godebug=$(awk '$1 == "godebug" {print $2; exit}' "$upstream_gomod")
go mod edit -go="$go_directive" ${godebug:+-godebug="$godebug"}
for module in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$upstream_gomod"); do
  go mod edit -replace="$module=$module@$KUBERNETES_STAGING_VERSION"
done
go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kubeadm"\n' > tools.go
go mod tidy >/dev/null 2>&1 || go mod download

minor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
log "compiling ${commands[*]} (cold: 20-40 min on 2 cores)"
packages=()
for c in "${commands[@]}"; do packages+=("k8s.io/kubernetes/cmd/$c"); done
go build -trimpath -ldflags "$ldflags" -o "$out/bin/" "${packages[@]}"

reported=$("$out/bin/kubeadm" version -o short)
[[ $reported == "$KUBERNETES_VERSION" ]] || die "kubeadm reports $reported, expected $KUBERNETES_VERSION"
date -u +%FT%TZ > "$out/stamp"
log "kubernetes $KUBERNETES_VERSION built in $out/bin"
