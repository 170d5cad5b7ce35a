"""Restarting the CRI through the node's systemd, and the stand-ins used without one.

In the pod, the host's /run/systemd is mounted at /host/run/systemd. systemctl, run as
root, talks to the manager over `/run/systemd/private`, so the container's /run/systemd
is made a link to the host's before the first call (the container's own /run only).
Both ends of that socket check the other's credentials, so the pod must share the
node's PID namespace (hostPID: true); systemctl then sees PID 1's root differ from its
own and would skip the restart as "running in chroot" (exit 0!) unless
SYSTEMD_IGNORE_CHROOT=1. The unit's InvocationID is compared before and after, so a
restart that did not happen is an error, never a silent success.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hooks.installer.errors import InstallerError

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class Restarter(Protocol):
    def restart(self, services: tuple[str, ...]) -> str:
        """Restart the first of `services` that exists on the node; return its name."""
        ...


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_IGNORE_CHROOT": "1"}
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=300, check=False, env=env)


@dataclass
class Systemd:
    """`systemctl restart` on the node's systemd (host root `/` or a mounted `/host`)."""

    host_root: Path
    runner: Runner = _run
    local_run_dir: Path = Path("/run/systemd")

    def _connect(self) -> None:
        host_dir = self.host_root / "run/systemd"
        if self.host_root.resolve() == Path("/") or (self.local_run_dir / "private").exists():
            return
        if not (host_dir / "private").exists():
            raise InstallerError(
                f"no systemd manager socket at {host_dir}/private",
                "mount the node's /run/systemd at /host/run/systemd (the node must run systemd), or use --no-restart",
            )
        # The image's own /run/systemd (empty leftovers of the systemd package) makes way.
        if self.local_run_dir.is_symlink():
            self.local_run_dir.unlink()
        elif self.local_run_dir.exists():
            shutil.rmtree(self.local_run_dir)
        os.symlink(host_dir, self.local_run_dir)

    def restart(self, services: tuple[str, ...]) -> str:
        self._connect()
        unit = services[0]
        for candidate in services:
            shown = self.runner(["systemctl", "show", "--property=LoadState", "--value", f"{candidate}.service"])
            if shown.returncode == 0 and shown.stdout.strip() == "loaded":
                unit = candidate
                break
        before = self._invocation(unit)
        done = self.runner(["systemctl", "restart", f"{unit}.service"])
        if done.returncode != 0:
            said = done.stderr.strip() or done.stdout.strip()
            fix = f"check `journalctl -u {unit}` on the node; its configuration may be wrong"
            if "Failed to connect to bus" in said:
                fix = "run the pod with hostPID: true (systemd's private socket checks the caller's PID)"
            raise InstallerError(f"systemctl restart {unit} failed ({done.returncode}): {said}", fix)
        after = self._invocation(unit)
        if after == before:
            raise InstallerError(
                f"systemctl restart {unit} returned success but {unit} kept InvocationID {before or '(none)'}",
                "run the pod with hostPID: true and check that the node runs systemd as PID 1",
            )
        return unit

    def _invocation(self, unit: str) -> str:
        shown = self.runner(["systemctl", "show", "--property=InvocationID", "--value", f"{unit}.service"])
        return shown.stdout.strip() if shown.returncode == 0 else ""


@dataclass
class DryRun:
    """--no-restart: say which unit would have been restarted, restart nothing."""

    said: list[str] = field(default_factory=list)
    dry_run: bool = True

    def restart(self, services: tuple[str, ...]) -> str:
        self.said.append(services[0])
        print(f"--no-restart: the CRI configuration changed; {services[0]} would have been restarted", flush=True)
        return services[0]
