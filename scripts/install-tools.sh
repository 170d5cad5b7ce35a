#!/usr/bin/env bash
# Install the pinned helm (v3 as `helm`, v4 as `helm4`), kind and kubectl into
# the git-ignored .tools/bin. Binaries are built once per version into
# $CACHE_DIR/tools/<name>-<version>-<flags hash> and linked from there, so a clean clone
# reuses them.
#   scripts/install-tools.sh [--no-kubectl] [TOOL...]   TOOL: helm helm4 kind kubectl (default: all)
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

wanted=()
no_kubectl=""
for arg in "$@"; do
  case $arg in
    --no-kubectl) no_kubectl=1 ;;
    helm | helm4 | kind | kubectl) wanted+=("$arg") ;;
    *) die "unknown argument $arg" ;;
  esac
done
((${#wanted[@]})) || wanted=(helm helm4 kind kubectl)
[[ -z $no_kubectl ]] || wanted=("${wanted[@]/kubectl/}")
want() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

# build_tool NAME VERSION PACKAGE@VERSION [LDFLAGS]
build_tool() {
  local name=$1 version=$2 pkg=$3 ldflags=${4:-}
  want "$name" || return 0
  # The key covers the link flags too: a changed version stamp rebuilds.
  local dest
  dest="$CACHE_DIR/tools/$name-$version-$(printf '%s' "$ldflags" | sha256sum | cut -c1-8)"
  if [[ ! -x $dest ]]; then
    log "building $name $version (go install $pkg)"
    local gobin
    gobin=$(mktemp -d)
    GOBIN=$gobin go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
    mkdir -p "$CACHE_DIR/tools"
    mv "$gobin"/* "$dest.tmp" && mv "$dest.tmp" "$dest"
    rmdir "$gobin"
  fi
  ln -sfn "$dest" "$TOOLS_BIN/$name"
}

# Helm 3 built by `go install` believes it talks to Kubernetes 1.20 when no
# cluster is reachable (helm template, lint); stamp the cluster's version.
kube_minor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")
helm3_ld="-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION"
for pkg in pkg/chartutil pkg/lint/rules; do
  helm3_ld+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$kube_minor"
done
build_tool helm "$HELM3_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" "$helm3_ld"
build_tool helm4 "$HELM4_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION" \
  "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
build_tool kind "$KIND_VERSION" "sigs.k8s.io/kind@$KIND_VERSION"
# kubectl comes from the Kubernetes build (scripts/build-kubernetes.sh).
if want kubectl; then
  "$REPO_ROOT/scripts/build-kubernetes.sh"
  ln -sfn "$CACHE_DIR/kubernetes/$KUBERNETES_VERSION/bin/kubectl" "$TOOLS_BIN/kubectl"
fi
log "tools ready in $TOOLS_BIN: $(ls "$TOOLS_BIN" | tr '\n' ' ')"
