#!/usr/bin/env bash
# Build a kind node image for Kubernetes $KUBERNETES_VERSION (kind $KIND_VERSION)
# from Go modules and Debian packages only: no container registry is used.
#
#   images/kind-node/build.sh [STEP...]
#
# Steps (default: image): rootfs, base, smoke, kubernetes, binaries, components,
# image, print-image.
# Every step is cached under $CACHE_DIR/kind-node, keyed by the versions in
# scripts/versions.env (and, for the image, a hash of images/kind-node/), so a
# second run only redoes what changed. The finished image is also kept as a
# `docker save` tarball so a machine whose Docker storage was wiped reloads it
# instead of rebuilding. If a stock kindest/node:$KUBERNETES_VERSION image is
# present locally it is used as is.
#
# Prints the image name on stdout as its last line.
# KIND_NODE_FORCE_BUILD=1 ignores a stock image and rebuilds even when the
# image or its tarball is cached (steps cached by version are still reused).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../../scripts/common.sh"

WORK="$CACHE_DIR/kind-node"
LOGS="$CACHE_DIR/logs"
TIMES="$WORK/timings.log"
mkdir -p "$WORK" "$LOGS"

IMAGE_REPO=kata-deploy-dev/kind-node
STOCK_IMAGE="kindest/node:$KUBERNETES_VERSION"
KUBE_BIN="$CACHE_DIR/kubernetes/$KUBERNETES_VERSION/bin"

# Packages of the node root filesystem (on top of debootstrap's minbase).
NODE_PACKAGES=(systemd conntrack iptables nftables iproute2 ethtool util-linux mount
  kmod libseccomp2 pigz bash ca-certificates curl jq procps e2fsprogs runc
  containernetworking-plugins iputils-ping socat)

# timed NAME CMD...: run a step and record how long it took in $TIMES.
timed() {
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  "$@" || rc=$?
  ((rc == 0)) && printf '%s %s %ds\n' "$(date -u +%FT%TZ)" "$name" "$(($(date +%s) - start))" >>"$TIMES"
  return $rc
}

# heartbeat LOG PID: print a progress line every 30 s while PID runs.
heartbeat() {
  local logfile=$1 pid=$2 n=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    n=$((n + 5))
    if ((n % 30 == 0)); then
      log "  ... ${n}s: $(tail -n1 "$logfile" 2>/dev/null | cut -c1-120)"
    fi
  done
}

# run_logged LOGNAME CMD...: run with output to $LOGS/LOGNAME.log and a heartbeat.
run_logged() {
  local logfile="$LOGS/$1.log" pid rc=0
  shift
  "$@" >>"$logfile" 2>&1 &
  pid=$!
  heartbeat "$logfile" "$pid" &
  local hb=$!
  wait "$pid" || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  if ((rc != 0)); then
    tail -n 40 "$logfile" >&2
    die "failed ($rc): $*; full log: $logfile"
  fi
}

hash_of() { sha256sum | cut -c1-12; }

# ---------------------------------------------------------------- rootfs ---
apt_mirror() {
  local m=""
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $m ]] || m=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

ROOTFS_KEY="$DEBIAN_SUITE-$(printf '%s\n' "${NODE_PACKAGES[@]}" | hash_of)"
ROOTFS_TAR="$WORK/rootfs/$ROOTFS_KEY.tar"

build_rootfs() {
  [[ -f $ROOTFS_TAR ]] && return 0
  local dir="$WORK/rootfs/$ROOTFS_KEY.dir" mirror
  mirror=$(apt_mirror)
  log "debootstrap $DEBIAN_SUITE from $mirror (${#NODE_PACKAGES[@]} extra packages; 3-8 min)"
  rm -rf "$dir"
  mkdir -p "$dir"
  local include
  include=$(IFS=,; echo "${NODE_PACKAGES[*]}")
  run_logged debootstrap debootstrap --variant=minbase --include="$include" "$DEBIAN_SUITE" "$dir" "$mirror"
  # Slim it down: package caches, documentation, locales.
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* \
    "$dir"/usr/share/info/* "$dir"/var/cache/debconf/*-old "$dir"/var/log/*.log
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} + 2>/dev/null || true
  tar -C "$dir" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$dir"
  log "rootfs ready: $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

# --------------------------------------------------------------- binaries ---
BIN="$WORK/bin"

# go_step NAME KEY FUNC: run FUNC DEST once per KEY; DEST ends up holding the binaries.
go_step() {
  local name=$1 key=$2 fn=$3 dest="$BIN/$1-$2"
  [[ -f $dest/.stamp ]] && return 0
  log "building $name $key (log: $LOGS/go-$name.log)"
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  local start
  start=$(date +%s)
  run_logged "go-$name" "$fn" "$dest.tmp"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  date -u +%FT%TZ >"$dest/.stamp"
  printf '%s go-%s %ds\n' "$(date -u +%FT%TZ)" "$name" "$(($(date +%s) - start))" >>"$TIMES"
}

# Build packages of a module whose go.mod has replace or exclude directives
# (so that `go install` refuses it) from a throwaway module that requires it;
# its exclude directives are carried over so versions resolve the same way.
#   build_in_wrapper DEST MODULE VERSION LDFLAGS PACKAGE...
build_in_wrapper() {
  local dest=$1 module=$2 version=$3 ldflags=$4
  shift 4
  local dir="$WORK/src/${module//\//_}@$version"
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    [[ -f go.mod ]] || go mod init local/wrapper
    local gomod
    gomod=$(go mod download -json "$module@$version" | jq -r .GoMod)
    go mod edit -json "$gomod" | jq -r '(.Exclude // [])[] | "-exclude=\(.Path)@\(.Version)"' | xargs -r go mod edit
    go get "$module@$version" ${WRAPPER_UPGRADES:-}
    go build -trimpath -ldflags "-s -w $ldflags" -o "$dest/" "$@"
  )
}

gobuild_containerd() {
  local v=$CONTAINERD_VERSION m=github.com/containerd/containerd/v2
  build_in_wrapper "$1" "$m" "$v" "-X $m/version.Version=$v -X $m/version.Revision=module" \
    "$m/cmd/containerd" "$m/cmd/ctr" "$m/cmd/containerd-shim-runc-v2"
}
# cri-tools v1.34.0 requires release candidates of the k8s.io libraries that
# the checksum database here cannot verify: lift them to the released
# $KUBERNETES_STAGING_VERSION (which the Kubernetes build already uses).
gobuild_crictl() {
  local m upgrades=""
  for m in api apimachinery client-go cri-api cri-client kubectl kubelet cli-runtime; do
    upgrades+=" k8s.io/$m@$KUBERNETES_STAGING_VERSION"
  done
  GONOSUMDB=sigs.k8s.io/cri-tools WRAPPER_UPGRADES=$upgrades build_in_wrapper "$1" sigs.k8s.io/cri-tools "$CRICTL_VERSION" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
}
gobuild_etcd() {
  build_in_wrapper "$1" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "" go.etcd.io/etcd/server/v3
  mv "$1/server" "$1/etcd" 2>/dev/null || mv "$1/v3" "$1/etcd"
}
gobuild_coredns() {
  GOBIN=$1 go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
}
gobuild_local_path() {
  GOBIN=$1 go install -trimpath -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
}
gobuild_own() { # the project's own programs: pause and nodenet
  (cd "$HERE/pause" && go build -trimpath -ldflags "-s -w -X main.version=$PAUSE_VERSION" -o "$1/pause" .)
  (cd "$HERE/nodenet" && go build -trimpath -ldflags "-s -w" -o "$1/nodenet" .)
}
own_hash() { (cd "$HERE" && find pause nodenet -type f -print0 | sort -z | xargs -0 sha256sum) | hash_of; }

# The Go programs of the node other than Kubernetes itself, one at a time
# (these machines have two cores and the Kubernetes build may be running).
build_binaries() {
  go_step own "$PAUSE_VERSION-$(own_hash)" gobuild_own
  go_step containerd "$CONTAINERD_VERSION" gobuild_containerd
  go_step crictl "$CRICTL_VERSION" gobuild_crictl
  go_step etcd "$ETCD_VERSION" gobuild_etcd
  go_step coredns "$COREDNS_VERSION" gobuild_coredns
  go_step local-path "$LOCAL_PATH_PROVISIONER_VERSION" gobuild_local_path
}

# Kubernetes is built by scripts/build-kubernetes.sh; wait for a copy that is
# already running instead of starting a second one.
wait_for_kubernetes() {
  local stamp="$CACHE_DIR/kubernetes/$KUBERNETES_VERSION/stamp" waited=0
  if [[ ! -f $stamp ]] && pgrep -f "scripts/build-kubernetes.sh" >/dev/null; then
    log "waiting for the running Kubernetes build ($LOGS/k8s.log)"
    while [[ ! -f $stamp ]] && pgrep -f "scripts/build-kubernetes.sh" >/dev/null; do
      sleep 15
      waited=$((waited + 15))
      ((waited % 60)) || log "  ... still compiling Kubernetes (${waited}s)"
    done
  fi
  if [[ ! -f $stamp ]]; then
    log "building Kubernetes $KUBERNETES_VERSION (cold: 20-40 min on 2 cores; log: $LOGS/k8s.log)"
    run_logged k8s "$REPO_ROOT/scripts/build-kubernetes.sh"
  fi
}

# ------------------------------------------------------------- base image ---
ROOTFS_IMAGE="kata-deploy-dev/debian-rootfs:$ROOTFS_KEY"
# The base image depends on the rootfs and on the project's files in this directory.
base_files_hash() {
  (cd "$HERE" && find rootfs base.Dockerfile -type f -print0 | sort -z | xargs -0 sha256sum) | hash_of
}
BASE_IMAGE="kata-deploy-dev/kind-base:$ROOTFS_KEY-$(base_files_hash)"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
  build_rootfs
  if ! have_image "$ROOTFS_IMAGE"; then
    log "importing the rootfs as $ROOTFS_IMAGE"
    docker import "$ROOTFS_TAR" "$ROOTFS_IMAGE" >/dev/null
  fi
  have_image "$BASE_IMAGE" && return 0
  log "building $BASE_IMAGE"
  DOCKER_BUILDKIT=0 run_logged base docker build -q --build-arg "ROOTFS=$ROOTFS_IMAGE" \
    -f "$HERE/base.Dockerfile" -t "$BASE_IMAGE" "$HERE"
}

# ------------------------------------------------------------- smoke test ---
# Fail fast: boot systemd in a privileged container the way kind does.
smoke_test() {
  build_base
  local name=kata-deploy-dev-smoke state="" i
  docker rm -f "$name" >/dev/null 2>&1 || true
  log "smoke test: booting systemd in $BASE_IMAGE"
  docker run -d --name "$name" --privileged --cgroupns=private --security-opt seccomp=unconfined \
    --security-opt apparmor=unconfined --tmpfs /tmp --tmpfs /run -v /var -v /lib/modules:/lib/modules:ro \
    "$BASE_IMAGE" >/dev/null
  for ((i = 0; i < 60; i++)); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 1
  done
  if [[ $state != running && $state != degraded ]]; then
    docker logs "$name" 2>&1 | tail -n 30 >&2
    docker rm -f "$name" >/dev/null
    die "systemd did not boot in a privileged container (state: ${state:-none})"
  fi
  log "smoke test passed: systemd is $state ($(docker logs "$name" 2>&1 | grep -c kind-node:) entrypoint lines)"
  docker logs "$name" 2>&1 | grep kind-node: >&2 || true
  docker rm -f -v "$name" >/dev/null
}

# ------------------------------------------------------------- components ---
# Images the node preloads. Kubernetes' own names come from kubeadm; the
# project's add-ons use a registry name that resolves nowhere, so a missing
# image fails loudly instead of being fetched from somewhere.
OWN_REGISTRY=kata-deploy-dev.local
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

kube_images() { "$KUBE_BIN/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null; }
kube_image() { kube_images | grep -E "/$1:" | head -n1; }
own_images() {
  echo "$OWN_REGISTRY/nodenet:$(own_hash)"
  echo "$OWN_REGISTRY/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION"
  echo "$OWN_REGISTRY/local-path-helper:$ROOTFS_KEY"
}
own_image() { own_images | grep -E "/$1:"; }

image_key() { docker image inspect -f '{{index .Config.Labels "dev.kata-deploy.key"}}' "$1" 2>/dev/null || true; }

# component_image KIND IMAGE KEY ENTRYPOINT SRC=DEST...: an image holding these
# files, on nothing (KIND=scratch) or on the Debian rootfs (KIND=rootfs, for
# programs that call iptables, nft, ip or a shell). Rebuilt when KEY changes.
component_image() {
  local kind=$1 image=$2 key=$3 entry=$4 spec dir
  shift 4
  [[ $(image_key "$image") == "$key" ]] && return 0
  dir=$(mktemp -d)
  mkdir -p "$dir/files/etc"
  for spec; do install -D -m 0755 "${spec%%=*}" "$dir/files${spec#*=}"; done
  local changes=("LABEL dev.kata-deploy.key=$key")
  [[ -z $entry ]] || changes+=("ENTRYPOINT [\"$entry\"]")
  if [[ $kind == scratch ]]; then
    install -d -m 1777 "$dir/files/tmp"
    echo 'root:x:0:0:root:/:/sbin/nologin' >"$dir/files/etc/passwd"
    echo 'root:x:0:' >"$dir/files/etc/group"
    local args=(--change "ENV PATH=$STD_PATH") c
    for c in "${changes[@]}"; do args+=(--change "$c"); done
    tar -C "$dir/files" --numeric-owner --owner=0 --group=0 -c . | docker import "${args[@]}" - "$image" >/dev/null
  else
    printf '%s\n' "FROM $ROOTFS_IMAGE" "COPY files/ /" "${changes[@]}" >"$dir/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$image" "$dir" >/dev/null
  fi
  rm -rf "$dir"
  log "  image $image"
}

build_components() {
  local k="$KUBE_BIN" own c
  own="$BIN/own-$PAUSE_VERSION-$(own_hash)"
  log "component images (no registry: built from the binaries)"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    component_image scratch "$(kube_image "$c")" "$KUBERNETES_VERSION" "/usr/local/bin/$c" "$k/$c=/usr/local/bin/$c"
  done
  component_image rootfs "$(kube_image kube-proxy)" "$KUBERNETES_VERSION-$ROOTFS_KEY" /usr/local/bin/kube-proxy \
    "$k/kube-proxy=/usr/local/bin/kube-proxy"
  component_image scratch "$(kube_image etcd)" "$ETCD_VERSION" /usr/local/bin/etcd \
    "$BIN/etcd-$ETCD_VERSION/etcd=/usr/local/bin/etcd"
  component_image scratch "$(kube_image coredns)" "$COREDNS_VERSION" /coredns "$BIN/coredns-$COREDNS_VERSION/coredns=/coredns"
  component_image scratch "$(kube_image pause)" "$(own_hash)" /pause "$own/pause=/pause"
  component_image rootfs "$(own_image nodenet)" "$(own_hash)-$ROOTFS_KEY" /usr/local/bin/nodenet \
    "$own/nodenet=/usr/local/bin/nodenet"
  component_image rootfs "$(own_image local-path-provisioner)" "$LOCAL_PATH_PROVISIONER_VERSION-$ROOTFS_KEY" "" \
    "$BIN/local-path-$LOCAL_PATH_PROVISIONER_VERSION/local-path-provisioner=/usr/local/bin/local-path-provisioner"
  component_image rootfs "$(own_image local-path-helper)" "$ROOTFS_KEY" ""
}

# ------------------------------------------------------------- node image ---
# The node image is keyed by every pinned version and by this directory.
node_key() {
  {
    cat "$REPO_ROOT/scripts/versions.env"
    (cd "$HERE" && find . -type f ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum)
  } | hash_of
}
NODE_KEY=$(node_key)
NODE_IMAGE="$IMAGE_REPO:$KUBERNETES_VERSION-$NODE_KEY"
NODE_TAR="$WORK/node-images/$KUBERNETES_VERSION-$NODE_KEY.tar"

preloaded_images() { kube_images; own_images; }

render_manifest() {
  sed -e "s|@NODENET_IMAGE@|$(own_image nodenet)|g" \
    -e "s|@LOCAL_PATH_IMAGE@|$(own_image local-path-provisioner)|g" \
    -e "s|@LOCAL_PATH_HELPER_IMAGE@|$(own_image local-path-helper)|g" "$1"
}

assemble_node() {
  local ctx="$WORK/node-context" f
  # Stage images of earlier, failed runs.
  docker images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | grep -e '-stage$' | xargs -r docker rmi >/dev/null 2>&1 || true
  rm -rf "$ctx"
  mkdir -p "$ctx/files/usr/local/bin" "$ctx/files/usr/bin" "$ctx/files/kind/manifests" "$ctx/files/etc/containerd"
  for f in containerd ctr containerd-shim-runc-v2; do
    cp "$BIN/containerd-$CONTAINERD_VERSION/$f" "$ctx/files/usr/local/bin/"
  done
  cp "$BIN/crictl-$CRICTL_VERSION/crictl" "$ctx/files/usr/local/bin/"
  for f in kubeadm kubelet kubectl; do cp "$KUBE_BIN/$f" "$ctx/files/usr/bin/"; done
  echo "$KUBERNETES_VERSION" >"$ctx/files/kind/version"
  render_manifest "$HERE/manifests/default-cni.yaml" >"$ctx/files/kind/manifests/default-cni.yaml"
  render_manifest "$HERE/manifests/default-storage.yaml" >"$ctx/files/kind/manifests/default-storage.yaml"
  sed "s|@PAUSE_IMAGE@|$(kube_image pause)|" "$HERE/rootfs/etc/containerd/config.toml" >"$ctx/files/etc/containerd/config.toml"
  preloaded_images >"$ctx/files/kind/preloaded-images"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
COPY files/ /
# containerd's default OCI spec without rlimits (pods inherit the node's).
RUN ctr oci spec | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json
LABEL dev.kata-deploy.key=$NODE_KEY dev.kata-deploy.kubernetes=$KUBERNETES_VERSION
DOCKERFILE
  log "assembling the node filesystem"
  DOCKER_BUILDKIT=0 run_logged node docker build -q -t "$NODE_IMAGE-stage" "$ctx"
  rm -rf "$ctx"
}

# Import every image into containerd's k8s.io namespace inside a container of
# the staged image, then commit that container as the node image.
preload_and_commit() {
  local name=kata-deploy-dev-node-build want got
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --privileged --entrypoint sleep "$NODE_IMAGE-stage" infinity >/dev/null
  docker exec "$name" sh -c 'containerd >/tmp/containerd.log 2>&1 &'
  local i
  for ((i = 0; i < 30; i++)); do
    docker exec "$name" ctr version >/dev/null 2>&1 && break
    sleep 1
  done
  mapfile -t want < <(preloaded_images | sort)
  log "preloading ${#want[@]} images into containerd (k8s.io namespace)"
  docker save "${want[@]}" | docker exec -i "$name" ctr -n k8s.io images import \
    --all-platforms --no-unpack --label io.cri-containerd.pinned=pinned - >>"$LOGS/node.log" 2>&1 \
    || { docker rm -f "$name" >/dev/null; die "ctr import failed; see $LOGS/node.log"; }
  # (the CRI plugin adds a sha256:<id> record per image: not a name)
  got=$(docker exec "$name" ctr -n k8s.io images ls -q | grep -v -e '@sha256:' -e '^sha256:' | sort)
  if [[ $got != "$(printf '%s\n' "${want[@]}")" ]]; then
    diff <(printf '%s\n' "${want[@]}") <(echo "$got") >&2 || true
    docker rm -f "$name" >/dev/null
    die "preloaded images differ from the expected list"
  fi
  # (PID 1 here is sleep, which reaps nobody: a stopped containerd stays a zombie)
  docker exec "$name" sh -c 'pkill -x containerd; i=0; while pgrep -x -r R,S,D containerd >/dev/null && [ $i -lt 150 ];
    do sleep 0.2; i=$((i + 1)); done; rm -f /tmp/containerd.log'
  docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
    "$name" "$NODE_IMAGE" >/dev/null
  docker rm -f "$name" >/dev/null
  docker rmi "$NODE_IMAGE-stage" >/dev/null
}

save_node_tar() {
  mkdir -p "$(dirname "$NODE_TAR")"
  log "saving $NODE_IMAGE to $NODE_TAR"
  docker save "$NODE_IMAGE" -o "$NODE_TAR.tmp"
  mv "$NODE_TAR.tmp" "$NODE_TAR"
  # Keep only the newest tarball of other keys for this Kubernetes version.
  find "$(dirname "$NODE_TAR")" -name "$KUBERNETES_VERSION-*.tar" ! -path "$NODE_TAR" -mmin +0 \
    -printf '%T@ %p\n' | sort -rn | tail -n +2 | cut -d' ' -f2- | xargs -r rm -f
}

build_node() {
  if [[ -n ${KIND_NODE_FORCE_BUILD:-} ]]; then
    log "KIND_NODE_FORCE_BUILD: building even if the image or its tarball exists"
  elif have_image "$NODE_IMAGE"; then
    [[ -f $NODE_TAR ]] || save_node_tar
    return 0
  fi
  if [[ -z ${KIND_NODE_FORCE_BUILD:-} && -f $NODE_TAR ]]; then
    log "loading the cached node image from $NODE_TAR"
    docker load -i "$NODE_TAR" >/dev/null
    have_image "$NODE_IMAGE" && return 0
  fi
  wait_for_kubernetes
  build_binaries
  timed base build_base
  timed components build_components
  timed assemble assemble_node
  timed preload preload_and_commit
  timed save save_node_tar
  prune_old_images
}

# Older node and base images (other keys); images still used by a container stay.
prune_old_images() {
  local ref used
  used=$(docker ps -aq | xargs -r docker inspect -f '{{.Image}}')
  docker images --format '{{.Repository}}:{{.Tag}}' |
    grep -E "^($IMAGE_REPO:$KUBERNETES_VERSION-|kata-deploy-dev/kind-base:)" |
    grep -v -x -e "$NODE_IMAGE" -e "$BASE_IMAGE" |
    while read -r ref; do
      grep -qx "$(docker image inspect -f '{{.Id}}' "$ref")" <<<"$used" || docker rmi "$ref" >/dev/null 2>&1 || true
    done
}

# Print the image kind should use: a stock kindest/node image of the same
# Kubernetes version if this machine has one, otherwise ours (built or loaded).
node_image() {
  if [[ -z ${KIND_NODE_FORCE_BUILD:-} ]] && have_image "$STOCK_IMAGE"; then
    log "using the local stock image $STOCK_IMAGE"
    echo "$STOCK_IMAGE"
    return
  fi
  timed node build_node
  docker tag "$NODE_IMAGE" "$IMAGE_REPO:$KUBERNETES_VERSION"
  echo "$NODE_IMAGE"
}

main() {
  local steps=("$@")
  ((${#steps[@]})) || steps=(image)
  local s
  for s in "${steps[@]}"; do
    case $s in
      rootfs) timed rootfs build_rootfs ;;
      base) timed base build_base ;;
      smoke) timed smoke smoke_test ;;
      binaries) build_binaries ;;
      kubernetes) wait_for_kubernetes ;;
      components) wait_for_kubernetes; build_binaries; build_base; timed components build_components ;;
      image) node_image ;;
      print-image) echo "$NODE_IMAGE" ;;
      *) die "unknown step $s" ;;
    esac
  done
}

main "$@"; exit $?
