"""containerd: `imports` edits undo byte for byte in any order; drop-in content and placement."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest

from hooks.installer import containerd
from hooks.installer.errors import HostConfigError
from hooks.installer.hostfs import HostFS
from tests.hooks.installer.conftest import make_host, make_settings

LAYOUTS = [
    'version = 2\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "x"\n',
    'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n\n[plugins.a]\nx = 1\n',
    "# head comment\nversion = 3\nimports = []\n[plugins.a]\n",
    'version = 2\nimports = [\n  "/a.toml",\n  "/b.toml",\n]\n[plugins.a]\n',
    "version = 2",
    "[plugins.a]\nx=1\n",
    "",
    "\n\n# only a comment\n",
    "version = 3 # trailing comment\r\n[plugins.a]\r\nx = 1\r\n",
]
A, B, C = (f"/opt/kata-{s}/containerd/kata-deploy-{s}.toml" for s in ("a", "b", "c"))


@pytest.mark.parametrize("text", LAYOUTS)
def test_add_then_remove_gives_back_the_bytes(text: str) -> None:
    added = containerd.add_import("/c.toml", text, A)
    data = tomllib.loads(added)
    assert data["imports"].count(A) == 1
    assert {k: v for k, v in data.items() if k != "imports"} == {
        k: v for k, v in tomllib.loads(text).items() if k != "imports"}
    assert containerd.add_import("/c.toml", added, A) == added  # idempotent
    assert containerd.remove_import("/c.toml", added, A) == text
    assert containerd.remove_import("/c.toml", text, A) == text  # twice-safe


@pytest.mark.parametrize("text", LAYOUTS)
def test_any_order_of_three_installs_and_removals_gives_back_the_bytes(text: str) -> None:
    for adds in itertools.permutations([A, B, C]):
        for removes in itertools.permutations([A, B, C]):
            current = text
            for entry in adds:
                current = containerd.add_import("/c.toml", current, entry)
            for index, entry in enumerate(removes):
                current = containerd.remove_import("/c.toml", current, entry)
                left = [e for e in adds if e not in removes[: index + 1]]
                imports = tomllib.loads(current).get("imports", [])
                assert [i for i in imports if i in (A, B, C)] == left
            assert current == text, (adds, removes)


def test_an_empty_imports_of_the_user_stays() -> None:
    text = "version = 2\nimports = []\n"
    assert containerd.remove_import("/c", containerd.add_import("/c", text, A), A) == text


def test_unparsable_config_names_the_line(tmp_path: Path) -> None:
    host = make_host(tmp_path / "h", "version = 2\n\n[plugins\nx = 1\n")
    with pytest.raises(HostConfigError) as caught:
        containerd.load(HostFS(host), "/etc/containerd/config.toml")
    assert caught.value.line == 3 and "/etc/containerd/config.toml:3" in str(caught.value)


@pytest.mark.parametrize("version", [2, 3])
def test_dropin_declares_each_handler_once_under_the_right_plugin(tmp_path: Path, payload_dir: Path,
                                                                  version: int) -> None:
    settings = make_settings(tmp_path, payload_dir, "--suffix", "dev", "--debug")
    data = tomllib.loads(containerd.render_dropin(settings, version).decode())
    plugin = containerd.CRI_PLUGIN[version]
    runtimes = data["plugins"][plugin]["containerd"]["runtimes"]
    assert data["version"] == version and list(data["plugins"]) == [plugin]
    expected = {h for s in settings.install.shims for h in (f"kata-{s}-dev", f"kata-{s}-dev-debug")}
    assert set(runtimes) == expected
    qemu = runtimes["kata-qemu-dev"]
    assert qemu["runtime_type"] == "io.containerd.kata-qemu-dev.v2"
    assert qemu["runtime_path"] == "/opt/kata-dev/bin/containerd-shim-kata-v2"
    assert qemu["options"]["ConfigPath"] == (
        "/opt/kata-dev/share/defaults/kata-containers/runtimes/qemu/configuration-qemu.toml")
    rust = runtimes["kata-qemu-runtime-rs-dev"]
    assert rust["runtime_path"] == "/opt/kata-dev/runtime-rs/bin/containerd-shim-kata-v2"
    assert qemu["pod_annotations"] == ["io.katacontainers.*"] and qemu["privileged_without_host_devices"] is True


def test_placement(tmp_path: Path, payload_dir: Path) -> None:
    host = make_host(tmp_path / "h")
    fs = HostFS(host)
    shared = containerd.place(fs, make_settings(host, payload_dir, "--suffix", "dev"), "2.1.4")
    assert [(p.dropin, p.imports_file) for p in shared] == [("/etc/containerd/conf.d/kata-deploy-dev.toml", None)]
    (host / "etc/containerd/conf.d").rmdir()  # imported but absent: use the install dir instead
    private = containerd.place(fs, make_settings(host, payload_dir, "--suffix", "dev"), "2.1.4")
    assert [(p.dropin, p.imports_file) for p in private] == [
        ("/opt/kata-dev/containerd/kata-deploy-dev.toml", "/etc/containerd/config.toml")]
    moved = make_settings(host, payload_dir, "--containerd-config-dir", "/etc/k0s", "--containerd-config-file",
                          "containerd.toml")
    assert moved.config_file == "/etc/k0s/containerd.toml"
    k0s = containerd.place(fs, make_settings(host, payload_dir, "--distribution", "k0s"), "")
    assert [(p.dropin, p.version) for p in k0s] == [("/etc/k0s/containerd.d/kata-deploy.toml", 2)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("containerd://2.1.4", (2, 1)), ("containerd://1.7.27-k3s1", (1, 7)), ("v2.2.0", (2, 2)), ("2.0.1", (2, 0)),
     ("cri-o://1.30.2", None), ("unknown", None)],
)
def test_parse_version(text: str, expected: tuple[int, int] | None) -> None:
    assert containerd.parse_version(text) == expected
