"""Install and cleanup on temporary host roots: idempotence, exact restore, isolation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hooks import naming
from hooks.installer import engine
from tests.hooks.installer.conftest import (
    CONTAINERD_V3_NO_IMPORTS,
    FakeKube,
    Recorder,
    doubled,
    fingerprint,
    make_host,
    make_settings,
    quiet,
)


def install(root: Path, payload: Path, suffix: str, *flags: str, kube: FakeKube | None = None,
            restarts: Recorder | None = None) -> engine.Result:
    settings = make_settings(root, payload, "--suffix", suffix, *flags)
    return engine.install(settings, restarts or Recorder(), kube, quiet)


def cleanup(root: Path, payload: Path, suffix: str, *flags: str, kube: FakeKube | None = None,
            restarts: Recorder | None = None) -> engine.Result:
    settings = make_settings(root, payload, "--suffix", suffix, *flags, command="cleanup")
    return engine.cleanup(settings, restarts or Recorder(), kube, quiet)


def containerd_runtimes(root: Path) -> dict[str, int]:
    """Handler -> how many times the node's containerd config (with its imports) declares it."""
    main = tomllib.loads((root / "etc/containerd/config.toml").read_text())
    counts: dict[str, int] = {}
    files = [root / "etc/containerd/config.toml"]
    for pattern in main.get("imports", []):
        files += sorted(root.glob(pattern.lstrip("/")))
    for path in files:
        data = tomllib.loads(path.read_text())
        for plugin in ("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"):
            runtimes = data.get("plugins", {}).get(plugin, {}).get("containerd", {}).get("runtimes", {})
            for name in runtimes:
                counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.parametrize("suffix", ["", "blue"])
def test_ten_installs_equal_one_and_the_second_restarts_nothing(host: Path, payload_dir: Path, suffix: str) -> None:
    restarts = Recorder()
    first = install(host, payload_dir, suffix, restarts=restarts)
    assert restarts.calls == [("containerd",)] and first.cri_changed
    once = fingerprint(host)
    for _ in range(9):
        again = install(host, payload_dir, suffix, restarts=restarts)
        assert again.written == [] and again.removed == []
    assert restarts.calls == [("containerd",)], "a re-install with nothing changed must not restart the CRI"
    assert fingerprint(host) == once
    assert doubled(host, [suffix]) == []
    counts = containerd_runtimes(host)
    install_ = naming.Install(suffix)
    assert all(counts.get(h) == 1 for h in install_.handlers()), counts


def test_install_then_cleanup_restores_the_host_byte_for_byte(host: Path, payload_dir: Path) -> None:
    before = fingerprint(host)
    install(host, payload_dir, "blue")
    assert fingerprint(host) != before
    restarts = Recorder()
    result = cleanup(host, payload_dir, "blue", restarts=restarts)
    assert restarts.calls == [("containerd",)] and result.cri_changed
    assert fingerprint(host) == before
    # Twice-safe: nothing left to do, so nothing changes and nothing restarts.
    again = Recorder()
    cleanup(host, payload_dir, "blue", restarts=again)
    assert again.calls == [] and fingerprint(host) == before


@pytest.mark.parametrize("order", ["before", "during", "after"])
def test_cleanup_leaves_another_suffix_intact(host: Path, payload_dir: Path, order: str) -> None:
    """The other install exists before ours, is made and removed while ours is there, or comes after."""
    if order == "before":
        install(host, payload_dir, "green")
        base = fingerprint(host)
        install(host, payload_dir, "blue")
        cleanup(host, payload_dir, "blue")
        assert fingerprint(host) == base
    elif order == "during":
        base = fingerprint(host)
        install(host, payload_dir, "blue")
        mid = fingerprint(host)
        install(host, payload_dir, "green")
        cleanup(host, payload_dir, "green")
        assert fingerprint(host) == mid
        cleanup(host, payload_dir, "blue")
        assert fingerprint(host) == base
    else:
        base = fingerprint(host)
        install(host, payload_dir, "blue")
        install(host, payload_dir, "green")
        green_alone = make_host(host.parent / "green-alone")
        install(green_alone, payload_dir, "green")
        cleanup(host, payload_dir, "blue")
        assert fingerprint(host) == fingerprint(green_alone)
        cleanup(host, payload_dir, "green")
        assert fingerprint(host) == base
    assert doubled(host, ["blue", "green"]) == []


def test_main_config_without_imports_gets_and_loses_exactly_our_entry(tmp_path: Path, payload_dir: Path) -> None:
    host = make_host(tmp_path / "host", CONTAINERD_V3_NO_IMPORTS)
    base = fingerprint(host)
    original = (host / "etc/containerd/config.toml").read_text()
    install(host, payload_dir, "blue")
    install(host, payload_dir, "green")
    main = tomllib.loads((host / "etc/containerd/config.toml").read_text())
    assert main["imports"] == ["/opt/kata-blue/containerd/kata-deploy-blue.toml",
                               "/opt/kata-green/containerd/kata-deploy-green.toml"]
    assert main["version"] == 3
    dropin = tomllib.loads((host / "opt/kata-blue/containerd/kata-deploy-blue.toml").read_text())
    assert "kata-qemu-blue" in dropin["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]
    assert containerd_runtimes(host)["kata-qemu-green"] == 1
    cleanup(host, payload_dir, "blue")
    cleanup(host, payload_dir, "green")
    assert (host / "etc/containerd/config.toml").read_text() == original
    assert fingerprint(host) == base


def test_labels_shared_label_stays_while_another_install_is_ready(host: Path, payload_dir: Path) -> None:
    kube = FakeKube()
    install(host, payload_dir, "blue", kube=kube)
    assert kube.patches[0] == {naming.SHARED_NODE_LABEL: "false", "kata-deploy.katacontainers.io/blue": "false"}
    install(host, payload_dir, "green", kube=kube)
    assert kube.labels == {naming.SHARED_NODE_LABEL: "true", "kata-deploy.katacontainers.io/blue": "true",
                           "kata-deploy.katacontainers.io/green": "true"}
    cleanup(host, payload_dir, "blue", kube=kube)
    assert kube.labels == {naming.SHARED_NODE_LABEL: "true", "kata-deploy.katacontainers.io/green": "true"}
    kube.labels["kata-deploy.katacontainers.io/green"] = "false"
    cleanup(host, payload_dir, "", kube=kube)  # an install that is not there: only the label rule runs
    assert kube.labels == {naming.SHARED_NODE_LABEL: "false", "kata-deploy.katacontainers.io/green": "false"}
    cleanup(host, payload_dir, "green", kube=kube)
    assert kube.labels == {}


def test_node_version_comes_from_the_api_and_old_containerd_is_refused(host: Path, payload_dir: Path) -> None:
    kube = FakeKube(version="containerd://1.7.27")
    before = fingerprint(host)
    settings = make_settings(host, payload_dir, "--suffix", "blue", env={})
    with pytest.raises(Exception, match=r"containerd 1\.7 .*multi-install.*containerd >= 2\.0"):
        engine.install(settings, Recorder(), kube, quiet)
    assert fingerprint(host) == before and kube.patches == []


@pytest.mark.parametrize(
    ("flags", "dropin"),
    [
        (["--crio"], "etc/crio/crio.conf.d/99-kata-deploy-blue.conf"),
        (["--distribution", "k3s"], "var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.d/kata-deploy-blue.toml"),
        (["--distribution", "k0s"], "etc/k0s/containerd.d/kata-deploy-blue.toml"),
        (["--distribution", "microk8s"], "opt/kata-blue/containerd/kata-deploy-blue.toml"),
    ],
)
def test_other_runtimes_and_distributions(host: Path, payload_dir: Path, flags: list[str], dropin: str) -> None:
    base = fingerprint(host)
    restarts = Recorder()
    install(host, payload_dir, "blue", *flags, restarts=restarts)
    data = tomllib.loads((host / dropin).read_text())
    text = (host / dropin).read_text()
    assert text.count("[") and "kata-qemu-blue" in text and data
    install(host, payload_dir, "blue", *flags, restarts=restarts)
    assert len(restarts.calls) == 1
    expected = {"--crio": "crio", "k3s": "k3s", "k0s": "k0scontroller", "microk8s": "snap.microk8s.daemon-containerd"}
    assert restarts.calls[0][0] == next(v for k, v in expected.items() if k in flags)
    if "microk8s" in flags:
        template = tomllib.loads((host / "var/snap/microk8s/current/args/containerd-template.toml").read_text())
        assert template["imports"] == ["/opt/kata-blue/containerd/kata-deploy-blue.toml"]
    cleanup(host, payload_dir, "blue", *flags)
    assert fingerprint(host) == base


def test_changed_settings_converge_without_leftovers(host: Path, payload_dir: Path) -> None:
    """Fewer shims and a moved drop-in: the re-install removes what the old one wrote."""
    install(host, payload_dir, "blue", "--shims", "qemu,clh,fc", "--debug")
    install(host, payload_dir, "blue", "--shims", "qemu")
    fresh = make_host(host.parent / "fresh")
    install(fresh, payload_dir, "blue", "--shims", "qemu")
    assert fingerprint(host) == fingerprint(fresh)
    # The main config stops importing conf.d: the drop-in moves into the install dir.
    for root in (host, fresh):
        config = root / "etc/containerd/config.toml"
        config.write_text(config.read_text().replace('imports = ["/etc/containerd/conf.d/*.toml"]\n', ""))
    install(host, payload_dir, "blue", "--shims", "qemu")
    install(fresh, payload_dir, "blue", "--shims", "qemu")
    assert fingerprint(host) == fingerprint(fresh)
    assert not (host / "etc/containerd/conf.d/kata-deploy-blue.toml").exists()


def test_overrides_and_debug_handlers(host: Path, payload_dir: Path) -> None:
    overrides = ('{"qemu": {"kernel": "/x/vmlinux", "virtio_fs_extra_args": ["--thread-pool-size=4"], '
                 '"default_vcpus": 2}}')
    install(host, payload_dir, "blue", "--shims", "qemu", "--debug", "--shim-overrides", overrides)
    config = tomllib.loads((host / "opt/kata-blue/share/defaults/kata-containers/runtimes/qemu/"
                                    "configuration-qemu.toml").read_text())
    qemu = config["hypervisor"]["qemu"]
    assert qemu["kernel"] == "/x/vmlinux" and qemu["virtio_fs_extra_args"] == ["--thread-pool-size=4"]
    assert qemu["default_vcpus"] == 2 and qemu["enable_debug"] is False
    debug = tomllib.loads((host / "opt/kata-blue/share/defaults/kata-containers/runtimes/qemu-debug/"
                                   "configuration-qemu.toml").read_text())
    assert debug["hypervisor"]["qemu"]["enable_debug"] is True and debug["runtime"]["enable_debug"] is True
    assert containerd_runtimes(host) == {"runc": 1, "kata-qemu-blue": 1, "kata-qemu-blue-debug": 1}


def test_installation_prefix(host: Path, payload_dir: Path) -> None:
    """Everything lands below the prefix; cleanup also removes the parents the install created."""
    base = fingerprint(host)
    install(host, payload_dir, "blue", "--installation-prefix", "/usr/local/", "--shims", "qemu")
    root = host / "usr/local/opt/kata-blue"
    qemu = tomllib.loads((root / "share/defaults/kata-containers/runtimes/qemu/configuration-qemu.toml").read_text())
    assert qemu["hypervisor"]["qemu"]["path"] == "/usr/local/opt/kata-blue/bin/qemu-system-x86_64-installation-prefix"
    assert qemu["hypervisor"]["qemu"]["kernel"] == "/usr/local/opt/kata-blue/share/kata-containers/vmlinux.container"
    dropin = tomllib.loads((host / "etc/containerd/conf.d/kata-deploy-blue.toml").read_text())
    runtime = dropin["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["kata-qemu-blue"]
    assert runtime["runtime_path"] == "/usr/local/opt/kata-blue/bin/containerd-shim-kata-v2"
    assert doubled(host, ["blue"]) == []
    cleanup(host, payload_dir, "blue", "--installation-prefix", "/usr/local")
    assert fingerprint(host) == base


@pytest.mark.parametrize(("dist", "rendered", "dropin_dir", "unit"), [
    ("k3s", 'version = 2\nimports = ["/var/lib/rancher/k3s/agent/etc/containerd/config.toml.d/*.toml"]\n',
     "var/lib/rancher/k3s/agent/etc/containerd/config.toml.d", "k3s"),
    ("rke2", 'version = 3\nimports = ["/var/lib/rancher/rke2/agent/etc/containerd/config-v3.toml.d/*.toml"]\n',
     "var/lib/rancher/rke2/agent/etc/containerd/config-v3.toml.d", "rke2-server"),
])
def test_k3s_and_rke2_template_dropins_follow_the_rendered_version(host: Path, payload_dir: Path, dist: str,
                                                                    rendered: str, dropin_dir: str, unit: str) -> None:
    config_dir = host / dropin_dir.rsplit("/", 1)[0]
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.toml").write_text(rendered)
    base = fingerprint(host)
    restarts = Recorder()
    install(host, payload_dir, "blue", "--distribution", dist, "--shims", "qemu", restarts=restarts)
    data = tomllib.loads((host / dropin_dir / "kata-deploy-blue.toml").read_text())
    plugin = "io.containerd.cri.v1.runtime" if "version = 3" in rendered else "io.containerd.grpc.v1.cri"
    assert list(data["plugins"][plugin]["containerd"]["runtimes"]) == ["kata-qemu-blue"]
    assert (config_dir / "config.toml").read_text() == rendered  # the rendered file is never edited
    assert restarts.calls == [(unit, *[u for u in naming.CRI_SERVICE_CANDIDATES[dist] if u != unit])]
    cleanup(host, payload_dir, "blue", "--distribution", dist)
    assert fingerprint(host) == base
