"""`kata-deploy run`: install, ready, and on SIGTERM clean up only when the DaemonSet is going."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hooks import naming
from hooks.installer import run
from hooks.installer.errors import SettingsError
from hooks.installer.settings import Settings
from tests.hooks.installer.conftest import CLI, REPO, FakeKube, Recorder, fingerprint, make_settings, quiet
from tests.hooks.installer.fake_apiserver import FakeAPIServer, State

DS = ("kube-system", "kata-deploy-blue")


def _pod(tmp_path: Path, kube: FakeKube | None, restarts: Recorder) -> run.Pod:
    return run.Pod(restarts, kube, quiet, tmp_path / "ready", wait=lambda: signal.SIGTERM)


def _settings(host: Path, payload: Path) -> Settings:
    return make_settings(host, payload, "--suffix", "blue", "--shims", "qemu",
                         env={"CONTAINERD_VERSION": "2.1.4", "DAEMONSET_NAME": DS[1], "POD_NAMESPACE": DS[0]},
                         command="run")


@pytest.mark.parametrize(("state", "cleans"), [("present", False), ("deleting", True), ("gone", True)])
def test_sigterm_cleans_up_only_when_the_daemonset_goes(host: Path, small_payload: Path, tmp_path: Path,
                                                          state: str, cleans: bool) -> None:
    base = fingerprint(host)
    kube = FakeKube(daemonsets={DS: state} if state != "gone" else {})
    restarts = Recorder()
    assert run.run(_settings(host, small_payload), "install", _pod(tmp_path, kube, restarts)) == 0
    assert (tmp_path / "ready").read_text() == "ready\n"
    if cleans:
        assert fingerprint(host) == base and kube.labels == {} and len(restarts.calls) == 2
    else:
        assert (host / "opt/kata-blue/bin/containerd-shim-kata-v2").is_file() and len(restarts.calls) == 1
        assert kube.labels == {naming.SHARED_NODE_LABEL: "true", "kata-deploy.katacontainers.io/blue": "true"}


def test_cleanup_mode_cleans_then_only_waits(host: Path, small_payload: Path, tmp_path: Path) -> None:
    base = fingerprint(host)
    kube = FakeKube(daemonsets={DS: "present"})
    settings = _settings(host, small_payload)
    run.run(settings, "install", _pod(tmp_path, kube, Recorder()))
    restarts = Recorder()
    assert run.run(settings, "cleanup", _pod(tmp_path, kube, restarts)) == 0
    assert fingerprint(host) == base and kube.labels == {} and len(restarts.calls) == 1
    with pytest.raises(SettingsError, match="KATA_DEPLOY_MODE='upgrade'"):
        run.run(settings, "upgrade", _pod(tmp_path, kube, restarts))


def _start(host: Path, payload: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("KATA_DEPLOY", "KUBERNETES_"))}
    full.update({"HOST_ROOT": str(host), "ARTIFACTS": str(payload), "MULTI_INSTALL_SUFFIX": "blue",
                 "SHIMS": "qemu", "NODE_NAME": "node-1", "POD_NAMESPACE": DS[0], "DAEMONSET_NAME": DS[1],
                 "KATA_DEPLOY_MODE": "install", "NO_RESTART": "true", "KATA_DEPLOY_READY_FILE": str(tmp_path / "ready"),
                 **env})
    return subprocess.Popen([*CLI, "run"], cwd=REPO, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait_ready(proc: subprocess.Popen[str], ready: Path) -> None:
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_process_with_the_kubernetes_client_and_real_signals(host: Path, small_payload: Path,
                                                                  tmp_path: Path) -> None:
    """A pod restart (DaemonSet present) keeps the node installed; an uninstall (deleted) cleans it."""
    base = fingerprint(host)
    state = State(daemonsets={DS: "present"})
    with FakeAPIServer(state) as api:
        env = {"KUBECONFIG": str(api.kubeconfig(tmp_path / "kubeconfig"))}
        proc = _start(host, small_payload, tmp_path, env)
        _wait_ready(proc, tmp_path / "ready")
        assert state.labels == {naming.SHARED_NODE_LABEL: "true", "kata-deploy.katacontainers.io/blue": "true"}
        installed = fingerprint(host)
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, out
        assert "still exists (pod restart or rollout): leaving the node installed" in out
        assert fingerprint(host) == installed and state.labels["kata-deploy.katacontainers.io/blue"] == "true"

        (tmp_path / "ready").unlink()
        proc = _start(host, small_payload, tmp_path, env)
        _wait_ready(proc, tmp_path / "ready")
        assert fingerprint(host) == installed  # the restarted pod changed nothing
        state.daemonsets[DS] = "deleting"
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, out
        assert "CRI configuration unchanged: no restart of containerd" in out  # the restarted pod's install
        assert "is deleting: cleaning up this node" in out
    assert fingerprint(host) == base and state.labels == {}
    assert any(r.startswith("PATCH /api/v1/nodes/node-1") for r in state.requests)


def test_sigterm_during_the_install_waits_for_it_to_finish(host: Path, small_payload: Path, tmp_path: Path) -> None:
    """A pod deleted mid-install must not leave half an install: the signal waits until the end."""
    clean = tmp_path / "clean"
    shutil.copytree(host, clean, symlinks=True)
    proc = _start(clean, small_payload, tmp_path / "c", {"NO_K8S": "true", "CONTAINERD_VERSION": "2.1.4"})
    _wait_ready(proc, tmp_path / "c" / "ready")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    proc = _start(host, small_payload, tmp_path, {"NO_K8S": "true", "CONTAINERD_VERSION": "2.1.4"})
    assert proc.stdout is not None
    first = proc.stdout.readline()  # printed after SIGTERM is blocked, before any write
    assert "install 'blue'" in first
    proc.send_signal(signal.SIGTERM)
    out = first + proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out
    assert "install 'blue' done" in out and "SIGTERM received" in out
    assert fingerprint(host) == fingerprint(clean)
