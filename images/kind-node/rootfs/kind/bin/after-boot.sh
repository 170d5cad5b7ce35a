#!/bin/bash
# Runs once systemd is up (kind-node-setup.service): drop the entrypoint's
# /proc/cgroups overlay, which only had to hide the misc controller from systemd.
if [[ ! -f /sys/fs/cgroup/cgroup.controllers ]] && findmnt /proc/cgroups >/dev/null 2>&1; then
  umount /proc/cgroups || true
fi
exit 0
