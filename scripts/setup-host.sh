#!/usr/bin/env bash
# Prepare this machine for kind clusters: Debian packages, a running Docker
# engine, and privileged containers that work even when the host's capability
# bounding set is smaller than the kernel's full set. Safe to run again.
#
#   scripts/setup-host.sh             set up (idempotent)
#   scripts/setup-host.sh --teardown  remove the runtime shim from Docker's config
#   scripts/setup-host.sh --check     report what is set up, change nothing
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DAEMON_JSON=/etc/docker/daemon.json
SHIM_NAME=runc-capfilter
SHIM_PATH=/usr/local/sbin/kata-deploy-dev-runc-capfilter
PROBE_IMAGE=kata-deploy-dev/probe:1
LOG_DIR="$CACHE_DIR/logs"
mkdir -p "$LOG_DIR"

need_root() { [[ $(id -u) == 0 ]] || die "run as root (apt-get, dockerd, $DAEMON_JSON)"; }

install_packages() {
  local missing=() p wanted=(debootstrap jq)
  # An engine that is already installed (GitHub's runners ship Moby's packages,
  # which conflict with docker.io) is used as it is.
  command -v dockerd >/dev/null || wanted+=(docker.io)
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update >>"$LOG_DIR/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 \
      || die "apt-get install failed, see $LOG_DIR/apt.log"
  fi
}

docker_up() { docker info >/dev/null 2>&1; }

dockerd_pid() { pgrep -x dockerd | head -n1; }

# Start dockerd unless an engine already answers. Uses the service manager when
# there is one (systemd as PID 1); otherwise runs dockerd in the background.
start_docker() {
  docker_up && return 0
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    log "starting docker with systemctl"
    systemctl start docker || true
  elif [[ -z $(dockerd_pid) ]]; then
    log "starting dockerd in the background (log: $LOG_DIR/dockerd.log)"
    # cgroup v1 hosts without an init system may lack the hierarchy mounts.
    if [[ ! -d /sys/fs/cgroup/memory && -x /etc/init.d/cgroupfs-mount ]]; then
      /etc/init.d/cgroupfs-mount start >/dev/null 2>&1 || true
    fi
    setsid nohup dockerd >>"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    docker_up && { log "docker is up"; return 0; }
    sleep 1
  done
  tail -n 30 "$LOG_DIR/dockerd.log" >&2 || true
  die "docker did not answer within 60 s"
}

# Apply a daemon.json change: dockerd reloads runtimes on SIGHUP.
reload_docker() {
  local pid
  pid=$(dockerd_pid)
  if [[ -n $pid ]]; then
    kill -HUP "$pid"
    sleep 1
  elif [[ -d /run/systemd/system ]]; then
    systemctl reload docker || systemctl restart docker
  fi
}

# True when the bounding set lacks a capability the kernel knows, which is
# what makes `docker run --privileged` fail.
bounding_set_is_short() {
  local bnd last full
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  last=$(cat /proc/sys/kernel/cap_last_cap)
  full=$(((1 << (last + 1)) - 1))
  ((bnd != full))
}

# A tiny image made of nothing but the merged-/usr symlinks; the host's /usr
# is bind-mounted read-only at run time, so no binary is ever imported.
ensure_probe_image() {
  docker image inspect "$PROBE_IMAGE" >/dev/null 2>&1 && return 0
  local dir
  dir=$(mktemp -d)
  mkdir -p "$dir/usr" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/etc" "$dir/tmp"
  ln -s usr/bin "$dir/bin"; ln -s usr/sbin "$dir/sbin"
  ln -s usr/lib "$dir/lib"; ln -s usr/lib64 "$dir/lib64"
  tar -C "$dir" -c . | docker import - "$PROBE_IMAGE" >/dev/null
  rm -rf "$dir"
}

privileged_run_works() {
  ensure_probe_image
  docker run --rm --privileged -v /usr:/usr:ro "$PROBE_IMAGE" /usr/bin/true >/dev/null 2>&1
}

shim_configured() {
  [[ -f $DAEMON_JSON ]] && [[ $(jq -r '."default-runtime" // ""' "$DAEMON_JSON") == "$SHIM_NAME" ]]
}

install_shim() {
  install -m 0755 "$REPO_ROOT/scripts/host/runc-capfilter" "$SHIM_PATH"
  mkdir -p "$(dirname "$DAEMON_JSON")"
  [[ -s $DAEMON_JSON ]] || echo '{}' >"$DAEMON_JSON"
  local tmp
  tmp=$(mktemp)
  jq --arg name "$SHIM_NAME" --arg path "$SHIM_PATH" \
    '.runtimes[$name] = {path: $path} | ."default-runtime" = $name' "$DAEMON_JSON" >"$tmp"
  mv "$tmp" "$DAEMON_JSON"
  log "registered $SHIM_NAME as Docker's default runtime in $DAEMON_JSON"
}

remove_shim() {
  if [[ -f $DAEMON_JSON ]]; then
    local tmp
    tmp=$(mktemp)
    jq --arg name "$SHIM_NAME" \
      'del(.runtimes[$name]) | if (.runtimes // {}) == {} then del(.runtimes) else . end
       | if ."default-runtime" == $name then del(."default-runtime") else . end' "$DAEMON_JSON" >"$tmp"
    if [[ $(jq -c . "$tmp") == "{}" ]]; then rm -f "$DAEMON_JSON" "$tmp"; else mv "$tmp" "$DAEMON_JSON"; fi
  fi
  rm -f "$SHIM_PATH"
}

setup() {
  need_root
  install_packages
  start_docker
  if bounding_set_is_short; then
    log "capability bounding set $(awk '/^CapBnd:/ {print $2}' /proc/self/status) is not the full set: privileged containers need $SHIM_NAME"
    # Refresh the installed copy even when already configured (the shim may have changed).
    if ! shim_configured || ! cmp -s "$REPO_ROOT/scripts/host/runc-capfilter" "$SHIM_PATH"; then
      install_shim
      reload_docker
    fi
  elif shim_configured; then
    log "bounding set is complete; $SHIM_NAME left configured (use --teardown to remove it)"
  fi
  privileged_run_works || die "docker run --privileged still fails; see $LOG_DIR/dockerd.log"
  log "docker run --privileged works"
  local cgv
  cgv=$(docker info -f '{{.CgroupVersion}}' 2>/dev/null || echo '?')
  log "docker $(docker version -f '{{.Server.Version}}'), cgroup v$cgv, storage $(docker info -f '{{.Driver}}')"
}

teardown() {
  need_root
  if shim_configured || [[ -e $SHIM_PATH ]]; then
    remove_shim
    docker_up && reload_docker
    log "removed $SHIM_NAME; containers created with it keep using it until recreated"
  else
    log "$SHIM_NAME is not configured; nothing to remove"
  fi
}

check() {
  docker_up && log "docker: up" || log "docker: down"
  bounding_set_is_short && log "bounding set: short" || log "bounding set: full"
  shim_configured && log "$SHIM_NAME: configured" || log "$SHIM_NAME: not configured"
  if docker_up; then privileged_run_works && log "privileged run: ok" || log "privileged run: FAILS"; fi
}

case ${1:-} in
  "") setup ;;
  --teardown) teardown ;;
  --check) check ;;
  *) die "usage: $0 [--teardown|--check]" ;;
esac
