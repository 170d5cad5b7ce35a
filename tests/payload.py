#!/usr/bin/env python3
"""Generate kata-deploy's TEST payload: a small tree with upstream kata-static's layout.

Nothing here is Kata Containers: the "binaries" are tiny shell scripts and the
configuration files are written by this module, with the keys and `/opt/kata/...`
paths the installer rewrites (the layout of a kata-static tarball: `opt/kata/bin`,
`runtime-rs/bin`, `share/defaults/kata-containers[/runtime-rs]/configuration-<shim>.toml`,
`share/kata-containers/...`, `share/kata-qemu/qemu/`). Every file says it is a test payload.

    python3 tests/payload.py --out DIR [--tarball FILE.tar.xz] [--extra-mb N] [--shims a,b]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hooks import shims as shim_catalog

MARK = "TEST PAYLOAD of kata-deploy (tests/payload.py), not a Kata Containers release"
KATA = "/opt/kata"
# A fixed time for every file, so payloads generated twice are identical (also in tarballs).
MTIME = 1_700_000_000

_BINARIES = {
    "bin/containerd-shim-kata-v2": "containerd shim (Go runtime)",
    "bin/kata-runtime": "kata-runtime",
    "bin/qemu-system-x86_64": "qemu",
    "bin/qemu-system-aarch64": "qemu",
    "bin/cloud-hypervisor": "cloud-hypervisor",
    "bin/firecracker": "firecracker",
    "bin/jailer": "firecracker jailer",
    "runtime-rs/bin/containerd-shim-kata-v2": "containerd shim (runtime-rs)",
    "libexec/virtiofsd": "virtiofsd",
}
_DATA = {
    "share/kata-containers/vmlinux-6.12.0-test.container": "guest kernel",
    "share/kata-containers/kata-containers-test.img": "guest image",
    "share/kata-containers/kata-containers-initrd-test.img": "guest initrd",
    "share/kata-qemu/qemu/bios-256k.bin": "qemu firmware",
    "share/kata-qemu/qemu/kvmvapic.bin": "qemu firmware",
}
# Links as kata-static ships them: the generic names point at versioned files.
_LINKS = {
    "share/kata-containers/vmlinux.container": "vmlinux-6.12.0-test.container",
    "share/kata-containers/kata-containers.img": "kata-containers-test.img",
    "share/kata-containers/kata-containers-initrd.img": "kata-containers-initrd-test.img",
}


def _hypervisor_table(shim: shim_catalog.Shim) -> list[str]:
    section = shim.hypervisor
    lines = [f"[hypervisor.{section}]"]
    binary = {"qemu": f"{KATA}/bin/qemu-system-x86_64", "clh": f"{KATA}/bin/cloud-hypervisor",
              "cloud-hypervisor": f"{KATA}/bin/cloud-hypervisor", "firecracker": f"{KATA}/bin/firecracker"}
    if section in binary:
        lines += [f'path = "{binary[section]}"', f'valid_hypervisor_paths = ["{binary[section]}"]']
    if section == "firecracker":
        lines += [f'jailer_path = "{KATA}/bin/jailer"', f'valid_jailer_paths = ["{KATA}/bin/jailer"]']
    lines += [
        f'kernel = "{KATA}/share/kata-containers/vmlinux.container"',
        f'image = "{KATA}/share/kata-containers/kata-containers.img"',
        'kernel_params = ""',
        "default_vcpus = 1",
        "default_memory = 2048",
        "enable_debug = false",
    ]
    if section == "qemu":
        lines += [
            'machine_type = "q35"',
            'firmware = ""',
            'shared_fs = "virtio-fs"',
            f'virtio_fs_daemon = "{KATA}/libexec/virtiofsd"',
            f'valid_virtio_fs_daemon_paths = ["{KATA}/libexec/virtiofsd"]',
            'virtio_fs_extra_args = ["--thread-pool-size=1", "--announce-submounts"]',
            'virtio_fs_cache = "auto"',
        ]
    return lines


def configuration(shim: shim_catalog.Shim) -> str:
    """The TEST configuration-<shim>.toml: upstream's shape, this project's words."""
    lines = [
        f"# {MARK}.",
        f"# Shape of configuration-{shim.name}.toml for the installer's tests; paths name {KATA}",
        "# like the release files do, so the installer has something to point elsewhere.",
        "",
        *_hypervisor_table(shim),
        "",
        "[agent.kata]",
        "enable_debug = false",
        "dial_timeout = 45",
        "",
        "[runtime]",
        "enable_debug = false",
        'internetworking_model = "tcfilter"',
        "sandbox_cgroup_only = true",
        f'# A comment naming {KATA}/bin is left alone: only values are rewritten.',
        "",
    ]
    return "\n".join(lines)


def files(shims: tuple[str, ...] | None = None) -> dict[str, tuple[bytes, int]]:
    """Relative path under opt/kata -> (content, mode) of every regular file."""
    chosen = [shim_catalog.CATALOG[n] for n in (shims or tuple(shim_catalog.CATALOG))]
    out: dict[str, tuple[bytes, int]] = {}
    for rel, what in _BINARIES.items():
        # The message names the path it ran from: the e2e suite reads it in a pod's events.
        script = f'#!/bin/sh\n# {MARK}: stands in for {what}.\necho "test payload: {what} at $0" >&2\nexit 1\n'
        out[rel] = (script.encode(), 0o755)
    for rel, what in _DATA.items():
        out[rel] = (f"{MARK}: stands in for the {what}.\n".encode(), 0o644)
    for shim in chosen:
        out[shim.pristine_config] = (configuration(shim).encode(), 0o644)
    out["VERSION"] = (f"0.0.0-test\n{MARK}\n".encode(), 0o644)
    return out


def write_tree(out: Path, shims: tuple[str, ...] | None = None, extra_mb: int = 0) -> Path:
    """Write `opt/kata/...` under `out`; `extra_mb` adds that many MB of incompressible data."""
    root = out / "opt/kata"
    for rel, (data, mode) in files(shims).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
        os.utime(path, (MTIME, MTIME))
    for rel, target in _LINKS.items():
        link = root / rel
        if not link.is_symlink():
            link.symlink_to(target)
    if extra_mb:
        rng = random.Random(0)
        big = root / "share/kata-containers/test-bulk"
        big.mkdir(parents=True, exist_ok=True)
        for index in range(0, extra_mb, 50):
            path = big / f"bulk-{index // 50:03d}.img"
            with open(path, "wb") as handle:
                for _ in range(min(50, extra_mb - index)):
                    handle.write(rng.randbytes(1 << 20))
            os.utime(path, (MTIME, MTIME))
    return out


def write_tarball(tree: Path, tarball: Path) -> Path:
    """A kata-static-like tarball of `tree` (entries start with ./opt/kata/)."""
    mode = "w:xz" if tarball.name.endswith(".xz") else "w:gz" if tarball.name.endswith(".gz") else "w"
    with tarfile.open(tarball, mode) as archive:  # type: ignore[call-overload]
        archive.add(tree / "opt", arcname="./opt")
    return tarball


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="directory to hold opt/kata/")
    parser.add_argument("--tarball", type=Path, help="also pack it as this tarball (.tar, .tar.gz, .tar.xz)")
    parser.add_argument("--extra-mb", type=int, default=0, help="add this many MB of bulk data")
    parser.add_argument("--shims", default="", help="only these shims' configurations (default: all)")
    args = parser.parse_args(argv)
    shims = shim_catalog.parse_list(args.shims) if args.shims else None
    write_tree(args.out, shims, args.extra_mb)
    if args.tarball:
        write_tarball(args.out, args.tarball)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

