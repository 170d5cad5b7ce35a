"""CRI-O: one drop-in per install in /etc/crio/crio.conf.d (`99-kata-deploy[-S].conf`)."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from hooks import naming
from hooks import shims as shim_catalog
from hooks.installer.containerd import toml_string
from hooks.installer.errors import HostConfigError
from hooks.installer.hostfs import HostFS
from hooks.installer.settings import Settings

MAIN_CONFIG = "/etc/crio/crio.conf"
_LINE_RE = re.compile(r"at line (\d+)")


def dropin_path(settings: Settings) -> str:
    return f"{naming.CRIO_DROPIN_DIR}/{settings.install.crio_dropin}"


def check_main_config(fs: HostFS) -> None:
    """CRI-O refuses to start on a main config that does not parse; so do we."""
    raw = fs.read_bytes(MAIN_CONFIG)
    if raw is None:
        return
    try:
        tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        found = _LINE_RE.search(str(err))
        raise HostConfigError(
            MAIN_CONFIG, f"not valid TOML: {err}", "fix the file: CRI-O cannot read it either",
            int(found.group(1)) if found else None,
        ) from err


def render_dropin(settings: Settings) -> bytes:
    install = settings.install
    lines = [
        f"# Written by kata-deploy for install {install.tag!r} ({install.install_dir}).",
        "# Regenerated on every install, removed by `kata-deploy cleanup`: do not edit.",
    ]
    variants = ["", *naming.CHART_VARIANTS] if install.debug else [""]
    for shim_name in install.shims:
        shim = shim_catalog.lookup(shim_name)
        for variant in variants:
            lines += [
                "",
                f"[crio.runtime.runtimes.{toml_string(install.handler(shim_name, variant))}]",
                f"runtime_path = {toml_string(f'{install.install_dir}/{shim.shim_binary}')}",
                'runtime_type = "vm"',
                'runtime_root = "/run/vc"',
                f"runtime_config_path = {toml_string(naming.generated_shim_config(install, shim_name, variant))}",
                "privileged_without_host_devices = true",
            ]
    return ("\n".join(lines) + "\n").encode()


def runtimes(data: dict[str, Any]) -> dict[str, str]:
    """Runtime handler -> runtime_path a parsed CRI-O config (or drop-in) declares."""
    tables = data.get("crio", {}).get("runtime", {}).get("runtimes", {})
    if not isinstance(tables, dict):
        return {}
    return {name: str(t.get("runtime_path", "")) if isinstance(t, dict) else "" for name, t in tables.items()}
