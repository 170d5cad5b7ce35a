"""`kata-deploy run`: what the DaemonSet's container does.

KATA_DEPLOY_MODE=install: install, mark ready (readiness file), wait for SIGTERM. On
SIGTERM clean up only when this pod's own DaemonSet is gone or being deleted: a pod
restart, an eviction or a rollout leaves the node installed (upstream issue #12761,
where a DaemonSet restart crashed every running Kata pod).
KATA_DEPLOY_MODE=cleanup (set by the uninstall hook): clean up, mark ready, wait for
SIGTERM, then exit without doing anything more.
SIGTERM is blocked from the start, so one that arrives mid-install waits until the
install is complete instead of killing it half way.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hooks import naming
from hooks.installer import engine, nodes
from hooks.installer.errors import SettingsError
from hooks.installer.restart import Restarter
from hooks.installer.settings import Settings

MODES = ("install", "cleanup")
_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def block_termination() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


def wait_for_termination() -> int:
    return signal.sigwait(_SIGNALS)


@dataclass
class Pod:
    """The edges `run` needs, injectable for tests."""

    restarter: Restarter
    api: nodes.KubeAPI | None
    log: Callable[[str], None]
    ready_file: Path = Path(naming.READY_FILE)
    wait: Callable[[], int] = wait_for_termination


def _ready(pod: Pod) -> None:
    pod.ready_file.parent.mkdir(parents=True, exist_ok=True)
    pod.ready_file.write_text("ready\n")
    pod.log(f"ready: wrote {pod.ready_file}")


def run(settings: Settings, mode: str, pod: Pod) -> int:
    if mode not in MODES:
        raise SettingsError(f"KATA_DEPLOY_MODE={mode!r} is unknown", f"use one of {', '.join(MODES)}")
    if mode == "cleanup":
        engine.cleanup(settings, pod.restarter, pod.api, pod.log)
        _ready(pod)
        signum = pod.wait()
        pod.log(f"{signal.Signals(signum).name}: cleanup mode, nothing more to do; exiting")
        return 0
    engine.install(settings, pod.restarter, pod.api, pod.log)
    _ready(pod)
    signum = pod.wait()
    pod.log(f"{signal.Signals(signum).name} received")
    if pod.api is None:
        pod.log("no Kubernetes API (--no-k8s): cannot tell an uninstall from a restart; leaving the node installed")
        return 0
    if not settings.daemonset_name or not settings.namespace:
        pod.log("DAEMONSET_NAME or POD_NAMESPACE unset: leaving the node installed")
        return 0
    state = pod.api.daemonset_state(settings.namespace, settings.daemonset_name)
    if state == nodes.PRESENT:
        pod.log(f"daemonset {settings.namespace}/{settings.daemonset_name} still exists (pod restart or rollout): "
                "leaving the node installed")
        return 0
    pod.log(f"daemonset {settings.namespace}/{settings.daemonset_name} is {state}: cleaning up this node")
    engine.cleanup(settings, pod.restarter, pod.api, pod.log)
    return 0
