#!/bin/bash
# Run before every kubelet start (see kubelet.service.d/20-kind-node.conf).
set -euo pipefail
if [[ ! -f /sys/fs/cgroup/cgroup.controllers ]]; then
  # cgroup v1: the entrypoint pinned the kubelet roots; the named systemd
  # hierarchy may only have appeared once systemd started.
  [[ -d /sys/fs/cgroup/systemd ]] && mkdir -p /sys/fs/cgroup/systemd/kubelet
  exit 0
fi
# cgroup v2: the kubelet wants every available controller delegated to its roots.
delegate_all() {
  local dir=/sys/fs/cgroup/$1 c
  for c in $(cat "$dir/cgroup.controllers"); do
    echo "+$c" >"$dir/cgroup.subtree_control" || true
  done
}
delegate_all ""
mkdir -p /sys/fs/cgroup/kubelet /sys/fs/cgroup/kubelet.slice
delegate_all kubelet
delegate_all kubelet.slice
