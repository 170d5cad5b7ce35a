"""The pristine artifacts payload: a directory holding `opt/kata/...` or a kata-static tarball.

The payload is only ever read. A tarball is unpacked into a private temporary directory;
its members are checked first (no absolute or `..` names, no devices, no set-id bits), by
this module rather than tarfile's extraction filters, which Debian bookworm's Python
3.11.2 in the image does not have.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import posixpath
import stat
import tarfile
import tempfile
import tomllib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hooks import naming
from hooks import shims as shim_catalog
from hooks.installer.errors import ArtifactsError

PAYLOAD_DIR = naming.PRISTINE_INSTALL_DIR.lstrip("/")  # "opt/kata"


@dataclass(frozen=True)
class Entry:
    """One payload entry, relative to `opt/kata/`."""

    rel: str
    kind: str  # "file" | "link"
    mode: int = 0o644
    link: str = ""


@dataclass(frozen=True)
class Payload:
    source: Path  # what the user named (directory or tarball)
    root: Path  # the directory that stands for /opt/kata
    entries: tuple[Entry, ...]

    def path(self, rel: str) -> Path:
        return self.root / rel

    def describe(self, rel: str) -> str:
        """How to name a payload file in an error message."""
        return f"{self.source}:{PAYLOAD_DIR}/{rel}"


@contextlib.contextmanager
def open_payload(source: Path) -> Iterator[Payload]:
    """Yield the payload at `source`; a tarball is unpacked for the duration of the block."""
    if not source.exists():
        raise ArtifactsError(
            f"artifacts {source} do not exist",
            "pass --artifacts with a kata-static tarball or a directory holding opt/kata/",
        )
    if source.is_dir():
        yield _scan(source, source / PAYLOAD_DIR)
        return
    with tempfile.TemporaryDirectory(prefix="kata-deploy-artifacts-") as tmp:
        _unpack(source, Path(tmp))
        yield _scan(source, Path(tmp) / PAYLOAD_DIR)


def _unpack(tarball: Path, dest: Path) -> None:
    try:
        with tarfile.open(tarball) as archive:
            members = []
            links: set[str] = set()
            for member in archive:
                name = member.name.removeprefix("./")
                if name == PAYLOAD_DIR or name.startswith(PAYLOAD_DIR + "/"):
                    members.append(_vetted(tarball, member, links))
            if not members:
                raise ArtifactsError(
                    f"tarball {tarball} has no entries under {PAYLOAD_DIR}/",
                    "use a kata-static tarball (its entries start with opt/kata/)",
                )
            if hasattr(tarfile, "fully_trusted_filter"):
                archive.extractall(dest, members=members, filter="fully_trusted")  # vetted above
            else:
                archive.extractall(dest, members=members)
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as err:
        if isinstance(err, PermissionError):
            raise
        raise ArtifactsError(
            f"artifacts tarball {tarball} is corrupt or unreadable: {err}",
            "download the kata-static tarball again and check its checksum",
        ) from err


def _vetted(tarball: Path, member: tarfile.TarInfo, links: set[str]) -> tarfile.TarInfo:
    """Refuse members that could write outside the payload; drop set-id bits.

    `links` collects the symbolic links seen so far: nothing may be unpacked through one.
    """
    name = posixpath.normpath(member.name)
    bad = not (name == PAYLOAD_DIR or name.startswith(PAYLOAD_DIR + "/"))
    bad = bad or any(str(parent) in links for parent in PurePosixPath(name).parents)
    if member.issym():
        links.add(name)
    if member.islnk():
        bad = bad or posixpath.normpath(member.linkname).startswith(("/", "../"))
    if bad or not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise ArtifactsError(
            f"artifacts tarball {tarball}: member {member.name!r} is not a plain file, directory or link "
            "inside the tree", "use a kata-static tarball as released",
        )
    member.mode &= 0o1777
    return member


def _scan(source: Path, root: Path) -> Payload:
    if not root.is_dir():
        raise ArtifactsError(
            f"artifacts {source} have no {PAYLOAD_DIR}/ directory",
            "pass a directory whose content is opt/kata/... or a kata-static tarball",
        )
    entries: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*filenames, *[d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]]):
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                entries.append(Entry(rel, "link", link=os.readlink(full)))
            elif stat.S_ISREG(st.st_mode):
                entries.append(Entry(rel, "file", mode=stat.S_IMODE(st.st_mode)))
    return Payload(source, root, tuple(sorted(entries, key=lambda e: e.rel)))


def check_shims(payload: Payload, shims: tuple[str, ...]) -> None:
    """Every enabled shim needs its shim binary and a parsable pristine configuration."""
    present = {entry.rel for entry in payload.entries}
    for name in shims:
        shim = shim_catalog.lookup(name)
        for rel, what in ((shim.shim_binary, "shim binary"), (shim.pristine_config, "configuration")):
            if rel not in present:
                raise ArtifactsError(
                    f"shim {name!r}: {what} {payload.describe(rel)} is missing from the artifacts",
                    f"use artifacts that ship shim {name!r} or disable it (--shims / SHIMS)",
                )
        config = payload.path(shim.pristine_config)
        try:
            tomllib.loads(config.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ArtifactsError(
                f"{payload.describe(shim.pristine_config)}: not valid TOML ({err})",
                "the artifacts are corrupt: rebuild or download them again",
            ) from err
