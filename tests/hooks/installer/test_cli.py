"""The command line: tarball == directory, flags win over the environment, status, systemctl calls."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from hooks.installer import restart
from hooks.installer.errors import InstallerError
from tests import payload as test_payload
from tests.hooks.installer.conftest import (
    cli_cleanup_args,
    cli_install_args,
    fingerprint,
    make_host,
    run_cli,
)


def test_tarball_and_directory_give_the_same_host(tmp_path: Path, small_payload: Path) -> None:
    tarball = test_payload.write_tarball(small_payload, tmp_path / "kata-static-test.tar.xz")
    a, b = make_host(tmp_path / "a"), make_host(tmp_path / "b")
    assert run_cli(*cli_install_args(a, small_payload, "blue", "--shims", "qemu,clh")).returncode == 0
    done = run_cli(*cli_install_args(b, tarball, "blue", "--shims", "qemu,clh"))
    assert done.returncode == 0, done.stderr
    assert fingerprint(a) == fingerprint(b)
    again = run_cli(*cli_install_args(b, tarball, "blue", "--shims", "qemu,clh"))
    assert "0 written, 0 removed, 0 CRI restart(s)" in again.stdout  # unpacked files keep their times


def test_flags_win_over_the_environment(tmp_path: Path, small_payload: Path) -> None:
    host = make_host(tmp_path / "h")
    env = {"MULTI_INSTALL_SUFFIX": "green", "SHIMS": "clh", "HOST_ROOT": "/nonexistent"}
    done = run_cli(*cli_install_args(host, small_payload, "blue", "--shims", "qemu"), env=env)
    assert done.returncode == 0, done.stderr
    assert (host / "opt/kata-blue").is_dir() and not (host / "opt/kata-green").exists()
    manifest = json.loads((host / "opt/kata-blue/.kata-deploy/install.json").read_text())
    assert manifest["shims"] == ["qemu"]
    # Environment alone (the DaemonSet's way): SHIMS and the suffix come from it.
    done = run_cli("install", "--host-root", str(host), "--artifacts", str(small_payload), "--no-k8s",
                   "--no-restart", env={**env, "CONTAINERD_VERSION": "2.1.4"})
    assert done.returncode == 0, done.stderr
    assert json.loads((host / "opt/kata-green/.kata-deploy/install.json").read_text())["shims"] == ["clh"]
    # Cleanup without SHIMS uses the shims the install recorded.
    done = run_cli("cleanup", "--host-root", str(host), "--suffix", "green", "--no-k8s", "--no-restart")
    assert done.returncode == 0 and not (host / "opt/kata-green").exists(), done.stderr


def test_no_restart_says_what_it_would_have_done(tmp_path: Path, small_payload: Path) -> None:
    host = make_host(tmp_path / "h")
    first = run_cli(*cli_install_args(host, small_payload, "blue", "--shims", "qemu"))
    assert "containerd would have been restarted" in first.stdout
    second = run_cli(*cli_install_args(host, small_payload, "blue", "--shims", "qemu"))
    assert "would have been restarted" not in second.stdout and "no restart of containerd" in second.stdout


def test_status_lists_every_install(tmp_path: Path, small_payload: Path) -> None:
    host = make_host(tmp_path / "h")
    for suffix in ("blue", "green"):
        assert run_cli(*cli_install_args(host, small_payload, suffix, "--shims", "qemu")).returncode == 0
    # An install that is not ours (upstream kata-deploy, by hand) and a drop-in that went missing.
    (host / "opt/kata/bin").mkdir(parents=True)
    (host / "opt/kata/bin/containerd-shim-kata-v2").write_text("x")
    (host / "etc/containerd/conf.d/upstream.toml").write_text(
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata-qemu]\n'
        'runtime_path = "/opt/kata/bin/containerd-shim-kata-v2"\n')
    (host / "etc/containerd/conf.d/kata-deploy-green.toml").unlink()
    done = run_cli("status", "--host-root", str(host), "--json")
    assert done.returncode == 0, done.stderr
    found = {item["install_dir"]: item for item in json.loads(done.stdout)}
    assert set(found) == {"/opt/kata", "/opt/kata-blue", "/opt/kata-green"}
    assert found["/opt/kata-blue"]["managed"] and found["/opt/kata-blue"]["handlers"] == {"kata-qemu-blue": True}
    assert found["/opt/kata-green"]["handlers"] == {"kata-qemu-green": False}
    assert not found["/opt/kata"]["managed"] and found["/opt/kata"]["handlers"] == {"kata-qemu": True}
    text = run_cli("status", "--host-root", str(host)).stdout
    assert "/opt/kata-green: suffix 'green'" in text and "handler kata-qemu-green: NOT in the CRI config" in text
    assert run_cli(*cli_cleanup_args(host, "blue")).returncode == 0
    assert "/opt/kata-blue" not in run_cli("status", "--host-root", str(host)).stdout


class Systemctl:
    """The systemctl edge: answers `show` for the units the node has, records `restart`."""

    def __init__(self, units: set[str], fail: str = "", ignores: bool = False) -> None:
        self.units = units
        self.fail = fail
        self.ignores = ignores  # like systemctl in a "chroot": exit 0, nothing restarted
        self.invocations = dict.fromkeys(units, 1)
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        unit = argv[-1].removesuffix(".service")
        if argv[1] == "show" and argv[2] == "--property=LoadState":
            return subprocess.CompletedProcess(argv, 0, "loaded\n" if unit in self.units else "not-found\n", "")
        if argv[1] == "show":
            return subprocess.CompletedProcess(argv, 0, f"{self.invocations.get(unit, '')}\n", "")
        if not self.fail and not self.ignores:
            self.invocations[unit] += 1
        return subprocess.CompletedProcess(argv, 1 if self.fail else 0, "", self.fail)


def test_systemd_restarts_the_unit_the_node_has_through_the_host_socket(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "run/systemd").mkdir(parents=True)
    (host / "run/systemd/private").write_text("")  # stands for the socket
    local = tmp_path / "container-run/systemd"
    (local / "system").mkdir(parents=True)  # the image's own /run/systemd makes way
    systemctl = Systemctl({"k3s-agent"})
    unit = restart.Systemd(host, systemctl, local).restart(("k3s", "k3s-agent"))
    assert unit == "k3s-agent" and ["systemctl", "restart", "k3s-agent.service"] in systemctl.calls
    assert systemctl.invocations["k3s-agent"] == 2
    assert local.is_symlink() and local.resolve() == (host / "run/systemd").resolve()
    failing = restart.Systemd(host, Systemctl({"containerd"}, fail="Job failed"), local)
    with pytest.raises(InstallerError, match=r"systemctl restart containerd failed \(1\): Job failed.*journalctl"):
        failing.restart(("containerd",))
    no_pid = restart.Systemd(host, Systemctl({"containerd"}, fail="Failed to connect to bus: No data available"), local)
    with pytest.raises(InstallerError, match="hostPID: true"):
        no_pid.restart(("containerd",))
    silent = restart.Systemd(host, Systemctl({"containerd"}, ignores=True), local)
    with pytest.raises(InstallerError, match="returned success but containerd kept InvocationID 1"):
        silent.restart(("containerd",))
    no_systemd = restart.Systemd(tmp_path / "bare", systemctl, tmp_path / "other/systemd")
    with pytest.raises(InstallerError, match="no systemd manager socket"):
        no_systemd.restart(("containerd",))
