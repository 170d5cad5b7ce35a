"""Shim configurations from pristine files: every path moved exactly once, overrides as TOML."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks import naming
from hooks import shims as shim_catalog
from hooks.installer import configs
from hooks.installer.errors import ArtifactsError
from tests import payload as test_payload

SUFFIXES = st.from_regex(r"\A[a-z][a-z0-9-]{0,12}[a-z0-9]\Z").filter(lambda s: "--" not in s)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/opt/kata/bin/qemu", "/opt/kata-x/bin/qemu"),
        ("/opt/kata", "/opt/kata-x"),
        ("/opt/kata-x/bin/qemu", "/opt/kata-x/bin/qemu"),  # already moved: a no-op, never /opt/kata-x-x
        ("/opt/katax/bin", "/opt/katax/bin"),
        ("/usr/opt/kata/bin", "/usr/opt/kata/bin"),
        ("agent.log=debug initrd=/opt/kata/share/x.img", "agent.log=debug initrd=/opt/kata-x/share/x.img"),
    ],
)
def test_relocate_moves_only_the_pristine_prefix(value: str, expected: str) -> None:
    assert configs.relocate(value, "/opt/kata-x") == expected


@settings(max_examples=60, deadline=None)
@given(suffix=SUFFIXES, prefix=st.sampled_from(["", "/usr/local", "/srv/k"]))
def test_every_value_points_into_the_install_dir_exactly_once(suffix: str, prefix: str) -> None:
    install = naming.Install(suffix, installation_prefix=prefix)
    for shim in ("qemu", "fc", "qemu-runtime-rs"):
        pristine = test_payload.configuration(shim_catalog.CATALOG[shim]).encode()
        out = configs.generate(pristine, "test", install, shim, {})
        again = configs.generate(pristine, "test", install, shim, {})
        assert out == again
        data = tomllib.loads(out.text.decode())
        paths = [s for s in _strings(data) if s.startswith("/")]
        assert paths and all(p.startswith(install.install_dir + "/") for p in paths), paths
        text = out.text.decode()
        assert f"{install.install_dir}-{suffix}" not in text
        assert "installation-prefix-installation-prefix" not in text
        if shim_catalog.CATALOG[shim].uses_qemu:
            qemu = data["hypervisor"]["qemu"]
            assert qemu["path"] == f"{install.install_dir}/bin/qemu-system-x86_64-installation-prefix"
            assert out.wrappers == {qemu["path"]: f"{install.install_dir}/bin/qemu-system-x86_64"}


def test_unsuffixed_unprefixed_install_keeps_the_file_and_has_no_wrapper() -> None:
    pristine = test_payload.configuration(shim_catalog.CATALOG["qemu"]).encode()
    out = configs.generate(pristine, "test", naming.Install(""), "qemu", {})
    assert out.wrappers == {}
    assert out.text.decode().split("\n", 2)[2] == pristine.decode()  # only the header comment is added


def test_overrides_are_typed_toml_values_and_replace_the_wrapper_for_path() -> None:
    pristine = test_payload.configuration(shim_catalog.CATALOG["qemu"]).encode()
    install = naming.Install("blue")
    out = configs.generate(pristine, "test", install, "qemu", {
        "path": "/usr/bin/qemu-kvm", "kernel_params": "quiet", "virtio_fs_extra_args": ["-o", "x"],
        "default_memory": 4096, "shared_fs": "virtio-9p"})
    qemu = tomllib.loads(out.text.decode())["hypervisor"]["qemu"]
    assert qemu["path"] == "/usr/bin/qemu-kvm" and out.wrappers == {}
    assert qemu["virtio_fs_extra_args"] == ["-o", "x"] and qemu["default_memory"] == 4096
    assert qemu["kernel_params"] == "quiet" and qemu["shared_fs"] == "virtio-9p"


def test_firecracker_paths_move_too() -> None:
    pristine = test_payload.configuration(shim_catalog.CATALOG["fc"]).encode()
    data = tomllib.loads(configs.generate(pristine, "t", naming.Install("blue"), "fc", {}).text.decode())
    assert data["hypervisor"]["firecracker"]["jailer_path"] == "/opt/kata-blue/bin/jailer"
    assert data["hypervisor"]["firecracker"]["path"] == "/opt/kata-blue/bin/firecracker"


def test_wrapper_script_depends_only_on_the_install_dir() -> None:
    script = configs.wrapper_script("/opt/kata-blue", "/opt/kata-blue/bin/qemu-system-x86_64").decode()
    assert script.startswith("#!/bin/sh\n")
    assert 'exec /opt/kata-blue/bin/qemu-system-x86_64 "$@" -L /opt/kata-blue/share/kata-qemu/qemu/' in script


def test_bad_pristine_files() -> None:
    with pytest.raises(ArtifactsError, match=r"conf.toml:2: not valid TOML"):
        configs.generate(b"[hypervisor.qemu]\npath = = 1\n", "conf.toml", naming.Install("x"), "qemu", {})
    with pytest.raises(ArtifactsError, match=r"has no \[hypervisor.qemu\] table"):
        configs.generate(b"[hypervisor.clh]\npath = '/x'\n", "conf.toml", naming.Install("x"), "qemu", {})
