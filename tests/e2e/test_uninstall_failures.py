"""Scenario f: uninstall with a crash-looping installer and with the worker NotReady."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.checks import assert_release_gone, diff
from tests.e2e.kata import NAMESPACE, Driver, record_timing, wait_for

pytestmark = pytest.mark.e2e


# In install mode the pod installs, then dies: the node is installed and its pod crash-loops.
# In cleanup mode (what the uninstall hook switches to) it runs as the chart means it to.
CRASHING_COMMAND = (
    'if [ "$KATA_DEPLOY_MODE" = cleanup ]; then exec kata-deploy run; fi; '
    "kata-deploy install; echo 'e2e: this installer crashes on purpose' >&2; exit 1"
)


def crash_patch(tmp_path: Path) -> Path:
    """A user patch (through the post-renderer) that makes the installer pods crash-loop."""
    path = tmp_path / "crash.yaml"
    path.write_text(yaml.safe_dump([{"target": {"kind": "DaemonSet"}, "patch": [
        {"op": "replace", "path": "/spec/template/spec/containers/0/command",
         "value": ["sh", "-c", CRASHING_COMMAND]}]}]))
    return path


def restarts(driver: Driver, suffix: str) -> int:
    pods = driver.kubectl_json("-n", NAMESPACE, "get", "pods", "-l", f"katacontainers.io/multi-install-suffix={suffix}")
    return min((sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses") or [])
                for p in pods["items"]), default=0)


def test_uninstall_with_a_crash_looping_installer(driver: Driver, baseline: dict[str, dict[str, str]],
                                                  releases: list[str], tmp_path: Path) -> None:
    releases.append("kata-crash")
    driver.helm(3, "install", "kata-crash", *driver.release_args("crash", [
        "--post-renderer-args", f"--patch={crash_patch(tmp_path)}"]), "--create-namespace")
    wait_for("installer pods crash-looping", lambda: restarts(driver, "crash") >= 2, 180)
    assert driver.grep_nodes("/opt/kata-crash/"), "the crashing installer should have installed first"
    started = time.monotonic()
    result = driver.uninstall("kata-crash", timeout=400)
    record_timing(f"f  uninstall, crash-looping installer    {time.monotonic() - started:6.1f}s")
    assert result.returncode == 0
    assert_release_gone(driver, "kata-crash", "crash")
    assert diff(baseline, driver.fingerprints()) == {}


def test_uninstall_with_the_worker_notready(driver: Driver, baseline: dict[str, dict[str, str]],
                                            releases: list[str]) -> None:
    releases.append("kata-lost")
    worker = next(n for n in driver.nodes if "worker" in n)
    driver.install("kata-lost", "lost", "--set", "cleanup.activeDeadlineSeconds=60")
    driver.wait_installed("lost")
    driver.node_exec(worker, "systemctl stop kubelet")
    try:
        def worker_not_ready() -> bool:
            node = driver.kubectl_json("get", "node", worker)
            return any(c["type"] == "Ready" and c["status"] != "True" for c in node["status"]["conditions"])

        wait_for(f"{worker} NotReady", worker_not_ready, 120, poll=2)
        started = time.monotonic()
        result = driver.uninstall("kata-lost", check=False, timeout=200)
        seconds = time.monotonic() - started
        record_timing(f"f  uninstall, worker NotReady (fails)    {seconds:6.1f}s")
        assert result.returncode != 0 and seconds < 150, (seconds, result.stderr)
        log = driver.kubectl("-n", NAMESPACE, "logs", "job/kata-deploy-lost-cleanup").stdout
        assert f"  - {worker}: node NotReady" in log, log
        assert "helm uninstall` again" in log
        status = driver.helm(3, "status", "kata-lost", "-n", NAMESPACE).stdout
        assert "STATUS: uninstalling" in status, status
    finally:
        driver.node_exec(worker, "systemctl start kubelet")
    wait_for(f"{worker} Ready again", lambda: not worker_not_ready(), 180, poll=2)
    started = time.monotonic()
    driver.uninstall("kata-lost")
    record_timing(f"f  second uninstall after recovery       {time.monotonic() - started:6.1f}s")
    assert_release_gone(driver, "kata-lost", "lost")
    assert diff(baseline, driver.fingerprints()) == {}
    assert driver.failed_pods() == []
