#!/usr/bin/env bash
# Build the node installer image kata-deploy-installer:<chart appVersion> without
# any container registry: the base is a Debian rootfs made with debootstrap and
# loaded with `docker import`; the Python package and its dependencies are
# installed into the build context from this checkout.
#
#   images/installer/build.sh [--artifacts PATH] [--tag TAG] [--print-tag]
#
#   --artifacts PATH  a kata-static tarball (entries start with opt/kata/) or a
#                     directory holding opt/kata/; default: the generated TEST
#                     payload of tests/payload.py (fake binaries, not Kata).
#   --tag TAG         image tag (default: kata-deploy-installer:<appVersion>).
#   --print-tag       print the tag and exit.
#   --base-only       only build and import the base image; print its name.
#
# The base rootfs is cached in $CACHE_DIR/installer keyed by the Debian suite and
# the package list; the base image is re-imported only when missing. The image
# is rebuilt only when its inputs (code, payload, Dockerfile) changed. Needs
# root and a Docker engine: scripts/setup-host.sh is run to provide one.
# Prints the image tag on stdout as its last line.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../../scripts/common.sh"

WORK="$CACHE_DIR/installer"
LOGS="$CACHE_DIR/logs"
mkdir -p "$WORK" "$LOGS"

# python3 runs the installer; systemd provides systemctl, which restarts the
# container runtime through the host's /run/systemd/private socket.
BASE_PACKAGES=(python3 systemd)

APP_VERSION=$(awk -F'"' '/^appVersion:/ {print $2}' "$REPO_ROOT/chart/Chart.yaml")
[[ -n $APP_VERSION ]] || die "no appVersion in chart/Chart.yaml"
TAG="kata-deploy-installer:$APP_VERSION"
ARTIFACTS=""
BASE_ONLY=0

while (($#)); do
  case $1 in
    --artifacts) ARTIFACTS=$(realpath "$2"); shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --print-tag) echo "$TAG"; exit 0 ;;
    --base-only) BASE_ONLY=1; shift ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
done

hash_of() { sha256sum | cut -c1-16; }

# Any Debian mirror will do; set DEBIAN_MIRROR to use a closer one.
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

ROOTFS_KEY="$DEBIAN_SUITE-$(printf '%s\n' "${BASE_PACKAGES[@]}" | hash_of)"
ROOTFS_TAR="$WORK/rootfs-$ROOTFS_KEY.tar"
BASE_IMAGE="kata-deploy-dev/installer-base:$ROOTFS_KEY"

build_rootfs() {
  [[ -f $ROOTFS_TAR ]] && return 0
  command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/setup-host.sh"
  local dir="$WORK/rootfs-$ROOTFS_KEY.dir" mirror=$MIRROR include
  include=$(IFS=,; echo "${BASE_PACKAGES[*]}")
  log "debootstrap $DEBIAN_SUITE (+$include) from $mirror (log: $LOGS/installer-debootstrap.log)"
  rm -rf "$dir"
  mkdir -p "$dir"
  debootstrap --variant=minbase --include="$include" "$DEBIAN_SUITE" "$dir" "$mirror" \
    >>"$LOGS/installer-debootstrap.log" 2>&1 || { tail -n 30 "$LOGS/installer-debootstrap.log" >&2; die "debootstrap failed"; }
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  tar -C "$dir" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$dir"
  log "rootfs cached: $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

import_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  log "docker import $BASE_IMAGE"
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
}

# The build context: the package and its dependencies installed with pip into
# ctx/site (pinned to the versions of this checkout's .venv, so the image runs
# the same library versions as the tests), plus the artifacts payload.
prepare_context() {
  local ctx=$1
  "$REPO_ROOT/scripts/setup-python.sh"
  local py="$REPO_ROOT/.venv/bin/python"
  mkdir -p "$ctx/site" "$ctx/artifacts"
  "$py" -m pip freeze --exclude-editable --disable-pip-version-check >"$ctx/constraints.txt"
  "$py" -m pip wheel --quiet --no-deps --disable-pip-version-check -w "$ctx/wheel" "$REPO_ROOT" \
    >>"$LOGS/installer-pip.log" 2>&1 || die "pip wheel failed, see $LOGS/installer-pip.log"
  "$py" -m pip install --quiet --disable-pip-version-check --no-compile --target "$ctx/site" \
    -c "$ctx/constraints.txt" "$ctx"/wheel/*.whl >>"$LOGS/installer-pip.log" 2>&1 \
    || die "pip install --target failed, see $LOGS/installer-pip.log"
  # direct_url.json names the temporary wheel path; the console scripts in bin/
  # carry this checkout's .venv in their shebang. The image needs neither.
  rm -rf "$ctx/wheel" "$ctx/constraints.txt" "$ctx/site/bin" "$ctx"/site/*.dist-info/direct_url.json
  if [[ -z $ARTIFACTS ]]; then
    "$py" "$REPO_ROOT/tests/payload.py" --out "$ctx/artifacts"
  elif [[ -d $ARTIFACTS ]]; then
    [[ -d $ARTIFACTS/opt/kata ]] || die "$ARTIFACTS has no opt/kata/ directory"
    cp -a "$ARTIFACTS/opt" "$ctx/artifacts/"
  else
    log "unpacking $ARTIFACTS"
    tar -C "$ctx/artifacts" -xf "$ARTIFACTS" ./opt/kata opt/kata 2>/dev/null \
      || tar -C "$ctx/artifacts" -xf "$ARTIFACTS"
    [[ -d $ctx/artifacts/opt/kata ]] || die "$ARTIFACTS has no entries under opt/kata/"
  fi
  cp "$HERE/Dockerfile" "$ctx/Dockerfile"
}

build_image() {
  # A private context, so that two checkouts can build at the same time.
  CONTEXT_DIR=$(mktemp -d "$WORK/context.XXXXXX")
  trap 'rm -rf "$CONTEXT_DIR"' EXIT
  local ctx=$CONTEXT_DIR
  prepare_context "$ctx"
  # Inputs of the image: base, code, dependencies, payload, Dockerfile. The
  # dist-info RECORD files are left out: they hash the console scripts, whose
  # shebang names this checkout's .venv, and those scripts are not in the image,
  # so clones at other paths get the same key and reuse the image.
  local key
  key=$( (echo "$BASE_IMAGE"; cd "$ctx" && find . -type f ! -path '*.dist-info/RECORD' -print0 | sort -z | xargs -0 sha256sum) | hash_of)
  if [[ $(docker image inspect -f '{{index .Config.Labels "dev.kata-deploy.inputs"}}' "$TAG" 2>/dev/null) == "$key" ]]; then
    log "$TAG is up to date (inputs $key)"
  else
    log "docker build $TAG (inputs $key)"
    DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "dev.kata-deploy.inputs=$key" \
      -t "$TAG" "$ctx" >>"$LOGS/installer-build.log" 2>&1 \
      || { tail -n 30 "$LOGS/installer-build.log" >&2; die "docker build failed"; }
  fi
}

docker info >/dev/null 2>&1 || "$REPO_ROOT/scripts/setup-host.sh" >&2
build_rootfs
import_base
((BASE_ONLY)) && { echo "$BASE_IMAGE"; exit 0; }
build_image
echo "$TAG"
