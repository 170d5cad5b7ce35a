"""Bad input: a clear error naming the file (and line), a non-zero exit, the host unchanged."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from tests import payload as test_payload
from tests.hooks.installer.conftest import cli_install_args, fingerprint, make_host, run_cli


def _expect_failure(host: Path, argv: list[str], code: int, *needles: str,
                    env: dict[str, str] | None = None) -> str:
    before = fingerprint(host)
    done = run_cli(*argv, env=env)
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    for needle in needles:
        assert needle in done.stderr, f"{needle!r} not in:\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert fingerprint(host) == before, "a failed install changed the host"
    return done.stderr


def test_missing_artifacts(host: Path, tmp_path: Path) -> None:
    _expect_failure(host, cli_install_args(host, tmp_path / "nowhere", "blue"), 1,
                    f"artifacts {tmp_path / 'nowhere'} do not exist", "Fix:")


def test_directory_without_opt_kata(host: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _expect_failure(host, cli_install_args(host, tmp_path / "empty", "blue"), 1, "have no opt/kata/ directory")


def test_corrupt_tarball(host: Path, tmp_path: Path, small_payload: Path) -> None:
    tarball = test_payload.write_tarball(small_payload, tmp_path / "kata-static.tar.xz")
    data = tarball.read_bytes()
    tarball.write_bytes(data[: len(data) // 2])
    _expect_failure(host, cli_install_args(host, tarball, "blue", "--shims", "qemu"), 1,
                    f"artifacts tarball {tarball} is corrupt")


def test_tarball_without_opt_kata(host: Path, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with tarfile.open(tmp_path / "other.tar", "w") as archive:
        archive.add(tmp_path / "x", arcname="usr/x")
    _expect_failure(host, cli_install_args(host, tmp_path / "other.tar", "blue"), 1, "has no entries under opt/kata/")


def test_payload_without_the_shim(host: Path, small_payload: Path) -> None:
    _expect_failure(host, cli_install_args(host, small_payload, "blue", "--shims", "qemu,fc"), 1,
                    "shim 'fc': configuration", "configuration-fc.toml is missing")


def test_corrupt_shim_configuration_names_file_and_line(host: Path, tmp_path: Path, small_payload: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(small_payload, broken, symlinks=True)
    config = broken / "opt/kata/share/defaults/kata-containers/configuration-qemu.toml"
    lines = config.read_text().splitlines()
    lines.insert(6, "kernel = = 'oops'")
    config.write_text("\n".join(lines) + "\n")
    _expect_failure(host, cli_install_args(host, broken, "blue", "--shims", "qemu"), 1,
                    "configuration-qemu.toml", "line 7")


@pytest.mark.parametrize(
    ("suffix", "needle"),
    [("Blue_1", "invalid multiInstallSuffix 'Blue_1'"), ("default", "reserved"), ("snp", "handler")],
)
def test_invalid_suffix(host: Path, small_payload: Path, suffix: str, needle: str) -> None:
    _expect_failure(host, cli_install_args(host, small_payload, suffix), 2, needle, "Fix:")


def test_unknown_shim_and_relative_prefix_and_bad_overrides(host: Path, small_payload: Path) -> None:
    _expect_failure(host, cli_install_args(host, small_payload, "blue", "--shims", "qemu,nope"), 2,
                    "unknown shim 'nope'")
    _expect_failure(host, cli_install_args(host, small_payload, "blue", "--installation-prefix", "usr/local"), 2,
                    "installation prefix 'usr/local' is relative")
    _expect_failure(host, cli_install_args(host, small_payload, "blue", "--shim-overrides", '{"qemu": {"cpus": 1}}'),
                    2, "key 'cpus' is not an allowed hypervisor override")
    _expect_failure(host, cli_install_args(host, small_payload, "blue"), 2,
                    "default shim 'fc' is not among the enabled shims",
                    env={"DEFAULT_SHIM_AMD64": "fc", "SHIMS": "qemu", "KATA_DEPLOY_ARCH": "x86_64"})


def test_unparsable_containerd_config_names_file_and_line(tmp_path: Path, small_payload: Path) -> None:
    host = make_host(tmp_path / "host", 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n[plugins\n')
    _expect_failure(host, cli_install_args(host, small_payload, "blue", "--shims", "qemu"), 1,
                    "/etc/containerd/config.toml:3: not valid TOML")


def test_unparsable_crio_config_names_file_and_line(host: Path, small_payload: Path) -> None:
    (host / "etc/crio/crio.conf").write_text('[crio.runtime]\ndefault_runtime = "crun"\nbroken\n')
    _expect_failure(host, cli_install_args(host, small_payload, "blue", "--shims", "qemu", "--crio"), 1,
                    "/etc/crio/crio.conf:3: not valid TOML")


def test_what_containerd_cannot_do(tmp_path: Path, small_payload: Path) -> None:
    old = make_host(tmp_path / "v1", '[plugins.cri]\n  sandbox_image = "pause"\n')
    _expect_failure(old, cli_install_args(old, small_payload, "blue", "--shims", "qemu"), 1,
                    "version 1 containerd config", "containerd config migrate")
    host = make_host(tmp_path / "host")
    argv = cli_install_args(host, small_payload, "blue", "--shims", "qemu")
    argv[argv.index("2.1.4")] = "containerd://1.7.27"
    _expect_failure(host, argv, 1, "containerd 1.7", "multi-install", "upgrade the node to containerd 2.x")
    unknown = [a for a in cli_install_args(host, small_payload, "blue", "--shims", "qemu")
               if a not in ("--containerd-version", "2.1.4")]
    _expect_failure(host, unknown, 1, "cannot tell the node's containerd version", "--containerd-version")
    missing = make_host(tmp_path / "none", None)
    _expect_failure(missing, cli_install_args(missing, small_payload, "blue", "--shims", "qemu"), 1,
                    "/etc/containerd/config.toml: containerd's main configuration does not exist")
    k3s = make_host(tmp_path / "k3s")
    rendered = k3s / "var/lib/rancher/k3s/agent/etc/containerd/config.toml"
    rendered.write_text("version = 3\n")
    _expect_failure(k3s, cli_install_args(k3s, small_payload, "blue", "--shims", "qemu", "--distribution", "k3s"), 1,
                    "does not import the drop-in directory config-v3.toml.d/", "config-v3.toml.tmpl")


# Root without the capabilities that bypass file permissions: a node path it does not own is read-only.
NO_OVERRIDE = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_no_permission(host: Path, small_payload: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(host):
        for name in [*dirnames, *filenames]:
            os.chown(Path(dirpath, name), 1000, 1000)
    os.chown(host, 1000, 1000)
    before = fingerprint(host)
    done = run_cli(*cli_install_args(host, small_payload, "blue", "--shims", "qemu"), wrapper=NO_OVERRIDE)
    assert done.returncode == 1, done.stderr
    assert "/run/lock/kata-deploy.lock" in done.stderr and "Permission denied" in done.stderr
    assert "run as root" in done.stderr and "Traceback" not in done.stderr
    assert fingerprint(host) == before
    # With the lock usable, the install dir's parent is what cannot be written.
    os.chown(host / "run/lock", 0, 0)
    done = run_cli(*cli_install_args(host, small_payload, "blue", "--shims", "qemu"), wrapper=NO_OVERRIDE)
    assert done.returncode == 1 and "cannot write /opt: no write permission" in done.stderr, done.stderr
    assert {k: v for k, v in fingerprint(host).items() if "kata-deploy.lock" not in k} == before


def test_a_crio_node_is_not_taken_for_containerd(host: Path, small_payload: Path) -> None:
    argv = cli_install_args(host, small_payload, "blue", "--shims", "qemu")
    argv[argv.index("2.1.4")] = "cri-o://1.30.2"
    _expect_failure(host, argv, 1, "container runtime is cri-o://1.30.2, not containerd", "crio.enabled")


def test_tarball_members_that_escape_the_tree(host: Path, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with tarfile.open(tmp_path / "evil.tar", "w") as archive:
        archive.add(tmp_path / "x", arcname="opt/kata/bin/ok")
        archive.add(tmp_path / "x", arcname="opt/kata/../../etc/evil")
    _expect_failure(host, cli_install_args(host, tmp_path / "evil.tar", "blue"), 1,
                    "member 'opt/kata/../../etc/evil' is not a plain file, directory or link inside the tree")


def test_tarball_that_unpacks_through_a_link(host: Path, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with tarfile.open(tmp_path / "evil.tar", "w") as archive:
        link = tarfile.TarInfo("opt/kata/share")
        link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path)
        archive.addfile(link)
        archive.add(tmp_path / "x", arcname="opt/kata/share/planted")
    _expect_failure(host, cli_install_args(host, tmp_path / "evil.tar", "blue"), 1,
                    "member 'opt/kata/share/planted' is not a plain file")
    assert not (tmp_path / "planted").exists()
