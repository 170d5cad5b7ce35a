#!/usr/bin/env bash
# Build a kind node image for Kubernetes $KUBERNETES_VERSION (kind $KIND_VERSION)
# from Go modules and Debian packages only: no container registry is used.
#
#   images/kind-node/build.sh [STEP...]
#
# Steps (default: image): rootfs, smoke, binaries, components, image, print-image.
# Every step is cached under $CACHE_DIR/kind-node, keyed by the versions in
# scripts/versions.env (and, for the image, a hash of images/kind-node/), so a
# second run only redoes what changed. The finished image is also kept as a
# `docker save` tarball so a machine whose Docker storage was wiped reloads it
# instead of rebuilding. If a stock kindest/node:$KUBERNETES_VERSION image is
# present locally it is used as is.
#
# Prints the image name on stdout as its last line.
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

main() {
  local steps=("$@")
  ((${#steps[@]})) || steps=(image)
  local s
  for s in "${steps[@]}"; do
    case $s in
      rootfs) timed rootfs build_rootfs ;;
      base) timed base build_base ;;
      smoke) timed smoke smoke_test ;;
      *) die "unknown step $s" ;;
    esac
  done
}

main "$@"
