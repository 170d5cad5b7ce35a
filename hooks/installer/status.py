"""`kata-deploy status`: every install found on a host root, whichever release made it.

An install is a directory `<prefix>/opt/kata[-S]`. Those with a kata-deploy manifest are
described from it; others (an upstream kata-deploy, a manual install) are listed as
`unmanaged` with what their files show. For each handler the CRI configuration is read
(the main containerd config, every file it imports, CRI-O drop-ins) to say whether the
CRI knows it.
"""

from __future__ import annotations

import glob
import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hooks import naming
from hooks.installer import containerd, crio
from hooks.installer.hostfs import HostFS


@dataclass
class Found:
    install_dir: str
    managed: bool
    suffix: str | None = None
    shims: list[str] = field(default_factory=list)
    handlers: dict[str, bool] = field(default_factory=dict)  # handler -> referenced by the CRI config
    dropin: str | None = None
    files: int = 0


def _cri_handlers(fs: HostFS, config_files: list[str]) -> dict[str, str]:
    """Handler -> runtime_path declared by the containerd configs (and their imports) and CRI-O drop-ins."""
    names: dict[str, str] = {}
    seen: set[str] = set()
    queue = list(config_files)
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        raw = fs.read_bytes(path)
        if raw is None:
            continue
        try:
            data = tomllib.loads(raw.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        names.update(containerd.runtimes(data))
        names.update(crio.runtimes(data))
        for pattern in data.get("imports", []) if isinstance(data.get("imports"), list) else []:
            if not isinstance(pattern, str):
                continue
            for match in sorted(glob.glob(str(fs.path(pattern)))):
                queue.append("/" + Path(match).relative_to(fs.root).as_posix())
    return names


def _config_files(fs: HostFS, extra: list[str]) -> list[str]:
    files = [f"{layout.config_dir}/{layout.config_file}" for layout in naming.DISTRIBUTIONS.values()]
    files += [f"{layout.config_dir}/config.toml" for layout in naming.DISTRIBUTIONS.values()]
    files += [f"{layout.dropin_dir}/{'*'}.toml" for layout in naming.DISTRIBUTIONS.values()]
    files += [f"{naming.CRIO_DROPIN_DIR}/*.conf", crio.MAIN_CONFIG, *extra]
    expanded: list[str] = []
    for item in files:
        if "*" in item:
            expanded += ["/" + Path(m).relative_to(fs.root).as_posix() for m in sorted(glob.glob(str(fs.path(item))))]
        else:
            expanded.append(item)
    return list(dict.fromkeys(expanded))


def scan(host_root: Path, prefixes: list[str], extra_configs: list[str]) -> list[Found]:
    fs = HostFS(host_root)
    known = _cri_handlers(fs, _config_files(fs, extra_configs))
    found: list[Found] = []
    for prefix in dict.fromkeys(["", *prefixes]):
        for candidate in sorted(glob.glob(str(fs.path(f"{prefix}/opt/kata"))) +
                                glob.glob(str(fs.path(f"{prefix}/opt/kata-*")))):
            path = Path(candidate)
            if not path.is_dir() or path.is_symlink():
                continue
            host_dir = "/" + path.relative_to(fs.root).as_posix()
            files = sum(len(f) for _, _, f in os.walk(path))
            manifest = _manifest(path)
            if manifest:
                handlers = [h for h in manifest.get("handlers", []) if isinstance(h, str)]
                found.append(Found(host_dir, True, str(manifest.get("suffix", "")),
                                   [str(s) for s in manifest.get("shims", [])],
                                   {h: h in known for h in handlers},
                                   manifest.get("dropin") if isinstance(manifest.get("dropin"), str) else None,
                                   files))
            elif files:
                mine = {h: True for h, runtime in sorted(known.items()) if runtime.startswith(host_dir + "/")}
                found.append(Found(host_dir, False, files=files, handlers=mine))
    return found


def _manifest(install_dir: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((install_dir / naming.INSTALL_MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def render(found: list[Found], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(f) for f in found], indent=2)
    if not found:
        return "no Kata install found"
    lines = []
    for item in found:
        who = f"suffix {item.suffix!r}" if item.managed else "unmanaged (not made by this kata-deploy)"
        lines.append(f"{item.install_dir}: {who}, {item.files} files")
        if item.shims:
            lines.append(f"  shims: {', '.join(item.shims)}")
        if item.dropin:
            lines.append(f"  drop-in: {item.dropin}")
        for handler, known in item.handlers.items():
            lines.append(f"  handler {handler}: {'in the CRI config' if known else 'NOT in the CRI config'}")
    return "\n".join(lines)
