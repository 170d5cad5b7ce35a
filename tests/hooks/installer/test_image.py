"""The installer image, run like the DaemonSet runs it: same host state as the direct CLI.

Marker `image`: needs a Docker engine; the image is built (incrementally) with
images/installer/build.sh, which needs no registry. Run: pytest -m image tests/hooks/installer
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hooks.installer.conftest import REPO, cli_cleanup_args, cli_install_args, fingerprint, make_host, run_cli

pytestmark = pytest.mark.image

# The DaemonSet's environment (chart/templates/daemonset.yaml), minus what needs a cluster.
DAEMONSET_ENV = {
    "NODE_NAME": "node-1", "POD_NAME": "kata-deploy-blue-x", "POD_NAMESPACE": "kube-system",
    "DAEMONSET_NAME": "kata-deploy-blue", "MULTI_INSTALL_SUFFIX": "blue", "SHIMS": "clh,qemu,qemu-runtime-rs",
    "DEFAULT_SHIM_AMD64": "qemu", "DEFAULT_SHIM_ARM64": "qemu", "DEFAULT_SHIM_S390X": "qemu",
    "DEFAULT_SHIM_PPC64LE": "qemu", "DEBUG": "false", "K8S_DISTRIBUTION": "k8s", "CONTAINERD_CONFIG_DIR": "",
    "CONTAINERD_CONFIG_FILE": "", "CRIO": "false", "INSTALLATION_PREFIX": "",
    "SHIM_OVERRIDES": '{"qemu": {"kernel_params": "quiet"}}', "LOG_LEVEL": "info", "HOST_ROOT": "/host",
    "ARTIFACTS": "/opt/kata-artifacts", "KATA_DEPLOY_MODE": "install",
    # No API server and no systemd here: the node's containerd version is given, the restart is reported.
    "NO_K8S": "true", "NO_RESTART": "true", "CONTAINERD_VERSION": "2.1.4",
}
CLI_FLAGS = ("--shims", "clh,qemu,qemu-runtime-rs", "--shim-overrides", '{"qemu": {"kernel_params": "quiet"}}')


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None:
        pytest.fail("docker CLI missing: run scripts/setup-host.sh")
    done = subprocess.run([str(REPO / "images/installer/build.sh")], capture_output=True, text=True, check=False,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def container_host(tmp_path: Path) -> Iterator[Path]:
    host = make_host(tmp_path / "host")
    yield host
    # Files the container made are root's like ours; nothing special to clean.


def _run_pod(image: str, host: Path, mode: str) -> tuple[str, str]:
    """Start the image as the DaemonSet would, wait for readiness, SIGTERM it; return (logs, exit code)."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # the reaper image cannot be pulled offline
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(image).with_command("kata-deploy run").with_volume_mapping(str(host), "/host", "rw")
    for key, value in {**DAEMONSET_ENV, "KATA_DEPLOY_MODE": mode}.items():
        container = container.with_env(key, value)
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        deadline = time.monotonic() + 120
        while True:
            code, _ = wrapped.exec_run(["cat", "/tmp/kata-deploy/ready"])  # the chart's readinessProbe
            if code == 0:
                break
            wrapped.reload()
            assert wrapped.status == "running", wrapped.logs().decode()
            assert time.monotonic() < deadline, wrapped.logs().decode()
            time.sleep(0.2)
        wrapped.kill(signal="SIGTERM")
        result = wrapped.wait(timeout=60)
        return wrapped.logs().decode(), str(result["StatusCode"])
    finally:
        container.stop()


def test_image_gives_the_host_state_of_the_direct_cli(image: str, container_host: Path, tmp_path: Path,
                                                      payload_dir: Path) -> None:
    base = fingerprint(container_host)
    logs, code = _run_pod(image, container_host, "install")
    assert code == "0", logs
    assert "install 'blue' done" in logs and "leaving the node installed" in logs

    direct = make_host(tmp_path / "direct")
    done = run_cli(*cli_install_args(direct, payload_dir, "blue", *CLI_FLAGS))
    assert done.returncode == 0, done.stderr
    assert fingerprint(container_host) == fingerprint(direct)

    logs, code = _run_pod(image, container_host, "cleanup")
    assert code == "0" and "cleanup 'blue' done" in logs, logs
    assert fingerprint(container_host) == base
    assert run_cli(*cli_cleanup_args(direct, "blue")).returncode == 0
    assert fingerprint(direct) == base


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def test_image_restarts_a_unit_of_the_nodes_systemd(image: str, tmp_path: Path) -> None:
    """As in a kind node: systemd is PID 1 of the node, the pod shares its PID namespace (hostPID)."""
    base = subprocess.run([str(REPO / "images/installer/build.sh"), "--base-only"], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    run_dir, unit = tmp_path / "run", tmp_path / "containerd.service"
    run_dir.mkdir()
    unit.write_text("[Unit]\nDescription=stands in for containerd\n[Service]\nExecStart=/bin/sleep infinity\n")
    node = _docker("run", "-d", "--privileged", "--cgroupns=private", "--tmpfs", "/tmp", "-v", f"{run_dir}:/run",
                   "-v", f"{unit}:/etc/systemd/system/containerd.service:ro", base, "/lib/systemd/systemd")
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "systemd/private").exists():
            assert time.monotonic() < deadline, "systemd did not start"
            time.sleep(0.2)
        _docker("exec", node, "systemctl", "start", "containerd.service")
        before = _docker("exec", node, "systemctl", "show", "-p", "InvocationID", "--value", "containerd.service")
        restart = ("from pathlib import Path; from hooks.installer.restart import Systemd; "
                   "print(Systemd(Path('/host')).restart(('containerd',)))")
        pod = ["run", "--rm", "--privileged", "-v", f"{run_dir}/systemd:/host/run/systemd"]
        out = _docker(*pod, f"--pid=container:{node}", image, "python3", "-c", restart)
        after = _docker("exec", node, "systemctl", "show", "-p", "InvocationID", "--value", "containerd.service")
        assert out == "containerd" and before and after and after != before
        # Without the node's PID namespace systemd's socket refuses us: a clear error, not a silent success.
        refused = subprocess.run(["docker", *pod, image, "python3", "-c", restart], capture_output=True, text=True,
                                 check=False, timeout=120)
        assert refused.returncode != 0 and "hostPID: true" in refused.stderr
    finally:
        _docker("rm", "-f", node)
