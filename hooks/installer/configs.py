"""Generate a shim's configuration from its pristine file, structurally (tomlkit).

Always from the pristine file shipped in the artifacts, never from a file already
edited: every `/opt/kata` path in a string value is pointed at the install dir exactly
once, the qemu wrapper is put in `[hypervisor.qemu] path` exactly once, and the
per-shim overrides are set as TOML values. Comments and layout of the pristine file
are kept, so a diff against it shows only what the install changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container
from tomlkit.items import AoT, Array, InlineTable, String, Table

from hooks import naming
from hooks import shims as shim_catalog
from hooks.installer.errors import ArtifactsError

WRAPPER_SUFFIX = "-installation-prefix"
# `/opt/kata` as a whole path component: not `/x/opt/kata`, not `/opt/kata-dev`, not `/opt/katax`.
_PRISTINE_RE = re.compile(r"(?<![\w./-])" + re.escape(naming.PRISTINE_INSTALL_DIR) + r"(?![\w.-])")


@dataclass
class ShimConfig:
    """A generated configuration and the qemu wrappers it points at (wrapper path -> real binary)."""

    text: bytes
    wrappers: dict[str, str] = field(default_factory=dict)


def relocate(value: str, install_dir: str) -> str:
    """Point every `/opt/kata` path component of a pristine string at `install_dir`."""
    if install_dir == naming.PRISTINE_INSTALL_DIR:
        return value
    return _PRISTINE_RE.sub(install_dir, value)


def _relocate_tree(node: Container | Table | InlineTable | Array | AoT, install_dir: str) -> None:
    if isinstance(node, Array):
        for index, item in enumerate(node):
            if isinstance(item, str):
                new = relocate(item, install_dir)
                if new != item:
                    node[index] = new
            elif isinstance(item, (InlineTable, Array)):
                _relocate_tree(item, install_dir)
        return
    if isinstance(node, AoT):
        for table in node:
            _relocate_tree(table, install_dir)
        return
    for key in list(node.keys()):
        item = node[key]
        if isinstance(item, String):
            new = relocate(str(item), install_dir)
            if new != str(item):
                node[key] = new
        elif isinstance(item, (Table, InlineTable, Array, AoT)):
            _relocate_tree(item, install_dir)


def wrapper_script(install_dir: str, real_qemu: str) -> bytes:
    """The `-installation-prefix` wrapper: qemu of this install with this install's firmware dir.

    Its content depends on nothing but the install dir and the pristine qemu path.
    """
    return (
        "#!/bin/sh\n"
        f"# Written by kata-deploy for {install_dir}: qemu's built-in data directory is\n"
        "# /opt/kata's, so point it at this install's own firmware.\n"
        f'exec {real_qemu} "$@" -L {install_dir}/share/kata-qemu/qemu/\n'
    ).encode()


def generate(
    pristine: bytes,
    source: str,
    install: naming.Install,
    shim_name: str,
    overrides: Mapping[str, Any],
    debug_variant: bool = False,
) -> ShimConfig:
    """The configuration of `shim_name` for `install`, from the pristine file's bytes.

    `source` names the pristine file in error messages.
    """
    shim = shim_catalog.lookup(shim_name)
    try:
        doc = tomlkit.parse(pristine.decode())
    except tomlkit.exceptions.ParseError as err:
        raise ArtifactsError(
            f"{source}:{err.line}: not valid TOML ({err})", "the artifacts are corrupt: rebuild or download them again"
        ) from err
    except UnicodeDecodeError as err:
        raise ArtifactsError(f"{source}: not UTF-8 text ({err})", "the artifacts are corrupt") from err
    section = doc.get("hypervisor", {}).get(shim.hypervisor) if isinstance(doc.get("hypervisor"), dict) else None
    if not isinstance(section, (Table, dict)):
        raise ArtifactsError(
            f"{source}: has no [hypervisor.{shim.hypervisor}] table, which shim {shim_name!r} needs",
            f"use the artifacts' own configuration-{shim_name}.toml",
        )
    _relocate_tree(doc, install.install_dir)
    wrappers: dict[str, str] = {}
    if shim.uses_qemu and install.install_dir != naming.PRISTINE_INSTALL_DIR and "path" in section:
        real = str(section["path"])
        wrapper = real + WRAPPER_SUFFIX
        wrappers[wrapper] = real
        section["path"] = wrapper
    for key, value in overrides.items():
        section[key] = value
    if "path" in overrides and wrappers:
        wrappers.clear()  # the user's own binary replaces the wrapper
    if debug_variant:
        section["enable_debug"] = True
        for path in (("agent", "kata"), ("runtime",)):
            table: Any = doc
            for part in path:
                table = table.get(part) if isinstance(table, dict) else None
            if isinstance(table, dict):
                table["enable_debug"] = True
    header = (
        f"# Generated by kata-deploy for install {install.tag!r} ({install.install_dir}) from\n"
        f"# {shim.pristine_config}; rewritten from that pristine file on every install: do not edit.\n"
    )
    return ShimConfig((header + tomlkit.dumps(doc)).encode(), wrappers)
