"""Fixtures of the installer tests: generated payloads, host roots, and fakes at the edges.

A host root is a temporary directory laid out like a node: /etc/containerd with a
version 2 config that imports conf.d (what the kind node image ships), /opt, /run/lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hooks import naming
from hooks.cli import build_parser
from hooks.installer import hostfs, settings
from tests import payload as test_payload

REPO = Path(__file__).resolve().parents[3]
CONTAINERD_V2 = """\
version = 2
imports = ["/etc/containerd/conf.d/*.toml"]

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10.1"

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"""
# No `imports`: the installer must add its own entry and take it out again.
CONTAINERD_V3_NO_IMPORTS = """\
# containerd 2.x, written by hand
version = 3

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'
"""
K3S_RENDERED = """\
version = 3
imports = ["/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.d/*.toml"]

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
"""
FAST_SHIMS = "qemu,clh"


def make_host(root: Path, containerd_config: str | None = CONTAINERD_V2) -> Path:
    """A node's file system below `root`."""
    for d in ("etc/containerd/conf.d", "opt", "run/lock", "run/systemd", "etc/crio/crio.conf.d",
              "etc/k0s/containerd.d", "var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.d",
              "var/snap/microk8s/current/args"):
        (root / d).mkdir(parents=True, exist_ok=True)
    if containerd_config is not None:
        (root / "etc/containerd/config.toml").write_text(containerd_config)
    (root / "etc/crio/crio.conf").write_text('[crio.runtime]\ndefault_runtime = "crun"\n')
    (root / "var/lib/rancher/k3s/agent/etc/containerd/config.toml").write_text(K3S_RENDERED)
    (root / "etc/k0s/containerd.toml").write_text("version = 2\n")
    (root / "var/snap/microk8s/current/args/containerd-template.toml").write_text(
        'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "${SNAPSHOTTER}"\n')
    return root


@pytest.fixture(scope="session")
def payload_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return test_payload.write_tree(tmp_path_factory.mktemp("payload"))


@pytest.fixture(scope="session")
def small_payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only qemu and clh: fewer files for the tests that run a process per file write."""
    return test_payload.write_tree(tmp_path_factory.mktemp("small-payload"), ("qemu", "clh"))


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return make_host(tmp_path / "host")


@dataclass
class Recorder:
    """The CRI restart at the edge: records instead of calling systemd."""

    calls: list[tuple[str, ...]] = field(default_factory=list)

    def restart(self, services: tuple[str, ...]) -> str:
        self.calls.append(services)
        return services[0]


@dataclass
class FakeKube:
    """The Kubernetes API at the edge: one node's labels and DaemonSet states."""

    labels: dict[str, str] = field(default_factory=dict)
    version: str = "containerd://2.1.4"
    daemonsets: dict[tuple[str, str], str] = field(default_factory=dict)
    patches: list[dict[str, str | None]] = field(default_factory=list)

    def node_labels(self, node: str) -> dict[str, str]:
        return dict(self.labels)

    def patch_node_labels(self, node: str, labels: dict[str, str | None]) -> None:
        self.patches.append(dict(labels))
        for key, value in labels.items():
            if value is None:
                self.labels.pop(key, None)
            else:
                self.labels[key] = value

    def runtime_version(self, node: str) -> str:
        return self.version

    def daemonset_state(self, namespace: str, name: str) -> str:
        return self.daemonsets.get((namespace, name), "gone")


def make_settings(root: Path, artifacts: Path, *flags: str, command: str = "install",
                  env: dict[str, str] | None = None) -> settings.Settings:
    """Settings exactly as the CLI builds them from these flags (and environment)."""
    argv = [command, "--host-root", str(root), "--node-name", "node-1", *flags]
    if command != "cleanup":
        argv += ["--artifacts", str(artifacts)]
    args = build_parser().parse_args(argv)
    return settings.resolve(args, env if env is not None else {"CONTAINERD_VERSION": "2.1.4"})


def quiet(_: str) -> None:
    return None


Fingerprint = dict[str, hostfs.Entry]


def fingerprint(root: Path) -> Fingerprint:
    return hostfs.fingerprint(root)


def doubled(root: Path, suffixes: list[str]) -> list[str]:
    """Files below `root` containing `<S>-<S>` or a doubled `-installation-prefix`."""
    bad = [f"{s}-{s}".encode() for s in suffixes if s] + [b"installation-prefix-installation-prefix"]
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            if path.is_symlink():
                continue
            data = path.read_bytes() + str(path.relative_to(root)).encode()
            hits += [f"{path}: {b.decode()}" for b in bad if b in data]
    return hits


CLI = [sys.executable, "-m", "hooks.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            wrapper: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KATA_DEPLOY_", "MULTI_INSTALL"))}
    full_env.update(env or {})
    return subprocess.run([*wrapper, *CLI, *args], cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def cli_install_args(root: Path, artifacts: Path, suffix: str, *extra: str) -> list[str]:
    return ["install", "--host-root", str(root), "--artifacts", str(artifacts), "--suffix", suffix,
            "--no-k8s", "--no-restart", "--containerd-version", "2.1.4", *extra]


def cli_cleanup_args(root: Path, suffix: str, *extra: str) -> list[str]:
    return ["cleanup", "--host-root", str(root), "--suffix", suffix, "--no-k8s", "--no-restart",
            "--containerd-version", "2.1.4", *extra]


__all__ = ["naming"]
