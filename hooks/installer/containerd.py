"""containerd: where this install's drop-in goes, what it says, and the main config's `imports`.

One drop-in file per install (`kata-deploy[-S].toml`), never shared:
- k8s / microk8s: into the drop-in dir when the main config already imports it (a glob such
  as `/etc/containerd/conf.d/*.toml`), else into the install dir, whose path is then added to
  the main config's `imports` (structurally, with tomlkit; removed again by cleanup);
- k3s / rke2: into `config.toml.d/` (config version 2) or `config-v3.toml.d/` (version 3)
  next to the template, which the rendered config must import (the template is never edited);
- k0s: into `/etc/k0s/containerd.d/`, which k0s loads by itself.
Drop-ins need containerd 2.0 or newer: containerd 1.x replaces a whole plugin table with
an imported one, so an install's drop-in would wipe the node's CRI settings.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from dataclasses import dataclass
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Array

from hooks import naming
from hooks import shims as shim_catalog
from hooks.installer.errors import HostConfigError, UnsupportedRuntimeError
from hooks.installer.hostfs import HostFS
from hooks.installer.settings import Settings

CRI_PLUGIN = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
IMPORTS_COMMENT = "added by kata-deploy; the last kata-deploy cleanup removes it"
# Where containerd binaries live on nodes, to ask one for its version when the API cannot.
_BINARIES = ("/usr/bin/containerd", "/usr/local/bin/containerd", "/usr/sbin/containerd")
_VERSION_RE = re.compile(r"(?:containerd://|\bv|^)(\d+)\.(\d+)")
_LINE_RE = re.compile(r"at line (\d+)")


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    import json

    return json.dumps(value, ensure_ascii=True)


@dataclass(frozen=True)
class MainConfig:
    path: str  # host path
    text: str
    data: dict[str, Any]

    @property
    def version(self) -> int:
        value = self.data.get("version", 1)
        return value if isinstance(value, int) else 1

    @property
    def imports(self) -> tuple[str, ...]:
        value = self.data.get("imports", [])
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def load(fs: HostFS, path: str) -> MainConfig | None:
    """Parse a containerd config on the host; None when it does not exist."""
    raw = fs.read_bytes(path)
    if raw is None:
        return None
    try:
        text = raw.decode()
        data = tomllib.loads(text)
    except UnicodeDecodeError as err:
        raise HostConfigError(path, f"not UTF-8 text ({err})", "fix the file: containerd cannot read it either",
                              ) from err
    except tomllib.TOMLDecodeError as err:
        found = _LINE_RE.search(str(err))
        raise HostConfigError(
            path, f"not valid TOML: {err}", "fix the file: containerd cannot read it either",
            int(found.group(1)) if found else None,
        ) from err
    imports = data.get("imports", [])
    if not isinstance(imports, list) or not all(isinstance(i, str) for i in imports):
        raise HostConfigError(path, "`imports` is not a list of strings", "make it a list of file paths or globs")
    if not isinstance(data.get("version", 1), int):
        raise HostConfigError(path, "`version` is not an integer", "set version = 2 or version = 3")
    return MainConfig(path, text, data)


def imported(imports: tuple[str, ...], path: str) -> bool:
    """Whether `path` is one of the files containerd imports (globs as containerd expands them)."""
    return any(fnmatch.fnmatchcase(path, pattern) if any(c in pattern for c in "*?[") else pattern == path
               for pattern in imports)


def parse_version(text: str) -> tuple[int, int] | None:
    """(major, minor) of a containerd version (`containerd://2.1.4`, `v2.1.4`, `2.1.4`); None otherwise."""
    if "://" in text and not text.strip().startswith("containerd://"):
        return None
    found = _VERSION_RE.search(text.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def probe_host_binary(fs: HostFS) -> str:
    """`containerd --version` of the node's own binary, or "" (absent, or cannot run here)."""
    for binary in _BINARIES:
        path = fs.path(binary)
        if not path.is_file():
            continue
        try:
            done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            continue
        if done.returncode == 0 and parse_version(done.stdout.split()[-2] if len(done.stdout.split()) > 2 else ""):
            return done.stdout.split()[-2]
    return ""


# --- placement --------------------------------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """Where this install's containerd drop-in goes and how containerd finds it."""

    dropin: str  # host path of the drop-in
    version: int  # config version of the drop-in (the main config's)
    imports_file: str | None  # main config that must list `dropin` in `imports`, if any
    checked_config: str | None  # the config whose `imports` decided the placement
    services: tuple[str, ...]


def _relative_dropin_dir(settings: Settings) -> str:
    layout = settings.layout
    rel = layout.dropin_dir.removeprefix(layout.config_dir).lstrip("/")
    return f"{settings.config_dir.rstrip('/')}/{rel}"


def _services(settings: Settings) -> tuple[str, ...]:
    return naming.CRI_SERVICE_CANDIDATES.get(settings.distribution, (settings.layout.service,))


def _version_of(config: MainConfig | None, runtime_version: str) -> int:
    if config is not None and "version" in config.data:
        return config.version
    parsed = parse_version(runtime_version) if runtime_version else None
    return 3 if parsed and parsed[0] >= 2 else 2


def place(fs: HostFS, settings: Settings, runtime_version: str, strict: bool = True) -> list[Placement]:
    """Where the drop-in goes. `strict` (install): exactly one placement, or an error.

    Not strict (cleanup): every placement this install could have used, so a cleanup finds
    the drop-in whatever changed since the install; unreadable configs are skipped.
    """
    install = settings.install
    name = install.containerd_dropin
    services = _services(settings)
    dist = settings.distribution

    def config(path: str) -> MainConfig | None:
        if strict:
            return load(fs, path)
        try:
            return load(fs, path)
        except HostConfigError:
            return None

    if dist in ("k3s", "rke2"):
        rendered_path = f"{settings.config_dir.rstrip('/')}/config.toml"
        rendered = config(rendered_path)
        if rendered is None:
            if strict:
                raise HostConfigError(
                    rendered_path, f"{dist} has not rendered its containerd config",
                    f"start {dist} once so that it writes config.toml, then install again",
                )
            return [Placement(f"{settings.config_dir.rstrip('/')}/{d}/{name}", v, None, None, services)
                    for d, v in (("config.toml.d", 2), (naming.TEMPLATE_V3_DROPIN_DIRNAME, 3))]
        version = rendered.version
        v2_dirname = _relative_dropin_dir(settings).rsplit("/", 1)[1]
        dirname = naming.TEMPLATE_V3_DROPIN_DIRNAME if version >= 3 else v2_dirname
        dropin = f"{settings.config_dir.rstrip('/')}/{dirname}/{name}"
        if strict and not imported(rendered.imports, dropin):
            raise HostConfigError(
                rendered_path, f"does not import the drop-in directory {dirname}/",
                f"add imports = [\"{settings.config_dir.rstrip('/')}/{dirname}/*.toml\"] to the {dist} containerd "
                f"template (config{'-v3' if version >= 3 else ''}.toml.tmpl) and restart {dist}",
            )
        return [Placement(dropin, version, None, rendered_path, services)]

    main_path = settings.config_file
    main = config(main_path)
    if dist == "k0s":
        return [Placement(f"{_relative_dropin_dir(settings)}/{name}", _version_of(main, runtime_version),
                          None, None, services)]
    if main is None:
        if strict:
            raise HostConfigError(
                main_path, "containerd's main configuration does not exist",
                "write one (containerd config default > config.toml) or point --containerd-config-dir / "
                "--containerd-config-file at it",
            )
        return [Placement(f"{_relative_dropin_dir(settings)}/{name}", 2, None, None, services),
                Placement(naming.private_containerd_dropin(install), 2, main_path, None, services)]
    shared = f"{_relative_dropin_dir(settings)}/{name}"
    private = naming.private_containerd_dropin(install)
    if imported(main.imports, shared) and fs.path(shared).parent.is_dir():
        placements = [Placement(shared, main.version, None, main_path, services)]
        other = Placement(private, main.version, main_path, main_path, services)
    else:
        placements = [Placement(private, main.version, main_path, main_path, services)]
        other = Placement(shared, main.version, None, main_path, services)
    return placements if strict else [*placements, other]


def check_version(settings: Settings, placement: Placement, runtime_version: str) -> None:
    """Refuse what containerd cannot do: version 1 configs, drop-ins before 2.0."""
    if placement.version < 2:
        raise HostConfigError(
            placement.checked_config or settings.config_file,
            "is a version 1 containerd config, whose CRI plugin tables this installer does not write",
            "migrate it: containerd config migrate > config.toml (containerd 2.x), then install again",
        )
    if "://" in runtime_version and not runtime_version.startswith("containerd://"):
        raise UnsupportedRuntimeError(
            f"the node's container runtime is {runtime_version}, not containerd",
            "install with CRI-O support (chart value crio.enabled=true, or --crio)",
        )
    if settings.distribution == "k0s":
        return  # k0s merges its containerd.d drop-ins itself
    parsed = parse_version(runtime_version) if runtime_version else None
    if parsed is None:
        if placement.version >= 3:
            return  # only containerd 2.x reads version 3 configs
        raise UnsupportedRuntimeError(
            "cannot tell the node's containerd version (the Kubernetes API was not asked and no containerd "
            "binary answered), and a version 2 config is read by containerd 1.x too, which cannot take drop-ins",
            "pass --containerd-version (the node's containerRuntimeVersion, e.g. containerd://2.1.4)",
        )
    if parsed[0] < 2:
        who = "multi-install (a suffix)" if settings.install.suffix else "this installer"
        raise UnsupportedRuntimeError(
            f"containerd {parsed[0]}.{parsed[1]} replaces a whole plugin table with an imported one, so a drop-in "
            f"would drop the node's own CRI settings; {who} needs containerd drop-ins (containerd >= 2.0)",
            "upgrade the node to containerd 2.x",
        )


# --- content ----------------------------------------------------------------------------
def render_dropin(settings: Settings, version: int) -> bytes:
    """This install's drop-in: one runtime table per handler (and debug variant)."""
    install = settings.install
    plugin = CRI_PLUGIN[3 if version >= 3 else 2]
    lines = [
        f"# Written by kata-deploy for install {install.tag!r} ({install.install_dir}).",
        "# Regenerated on every install, removed by `kata-deploy cleanup`: do not edit.",
        f"version = {3 if version >= 3 else 2}",
    ]
    variants = ["", *naming.CHART_VARIANTS] if install.debug else [""]
    for shim_name in install.shims:
        shim = shim_catalog.lookup(shim_name)
        for variant in variants:
            handler = install.handler(shim_name, variant)
            table = f'plugins.{toml_string(plugin)}.containerd.runtimes.{toml_string(handler)}'
            lines += [
                "",
                f"[{table}]",
                f"runtime_type = {toml_string(install.runtime_type(shim_name, variant))}",
                f"runtime_path = {toml_string(f'{install.install_dir}/{shim.shim_binary}')}",
                "privileged_without_host_devices = true",
                'pod_annotations = ["io.katacontainers.*"]',
                "",
                f"[{table}.options]",
                f"ConfigPath = {toml_string(naming.generated_shim_config(install, shim_name, variant))}",
            ]
    return ("\n".join(lines) + "\n").encode()


def runtimes(data: dict[str, Any]) -> dict[str, str]:
    """Runtime handler -> runtime_path ("" if unset) a parsed containerd config (or drop-in) declares."""
    found: dict[str, str] = {}
    plugins = data.get("plugins", {})
    if not isinstance(plugins, dict):
        return found
    for plugin in CRI_PLUGIN.values():
        tables = plugins.get(plugin, {}).get("containerd", {}).get("runtimes", {})
        if isinstance(tables, dict):
            found.update({name: str(t.get("runtime_path", "")) if isinstance(t, dict) else ""
                          for name, t in tables.items()})
    return found


# --- imports edits ----------------------------------------------------------------------
def add_import(path: str, text: str, entry: str) -> str:
    """`text` with `entry` in its top-level `imports` (appended; the key created first if absent).

    A created key goes at the very top of the file and carries IMPORTS_COMMENT, so that
    removing the last entry can remove the key and give back the original bytes.
    """
    doc = _parse(path, text)
    current = doc.get("imports")
    if current is None:
        array = tomlkit.array()
        array.append(entry)
        array.comment(IMPORTS_COMMENT)
        if len(doc.body):
            doc._insert_at(0, "imports", array)
        else:
            doc.add("imports", array)
    elif isinstance(current, Array):
        if entry in current:
            return text
        current.append(entry)
    else:
        raise HostConfigError(path, "`imports` is not an array", "make it a list of file paths or globs")
    new = tomlkit.dumps(doc)
    if remove_import(path, new, entry) != text:
        raise HostConfigError(
            path, "adding to `imports` could not be undone byte for byte, so the edit was not made",
            f"add {entry!r} to `imports` yourself, or report the file's layout as a kata-deploy bug",
        )
    return new


def remove_import(path: str, text: str, entry: str) -> str:
    """`text` without `entry` in `imports`; the key goes too if kata-deploy created it and it is empty."""
    doc = _parse(path, text)
    current = doc.get("imports")
    if not isinstance(current, Array) or entry not in current:
        return text
    del current[list(current).index(entry)]
    if not len(current) and IMPORTS_COMMENT in current.trivia.comment:
        del doc["imports"]
    return tomlkit.dumps(doc)


def _parse(path: str, text: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as err:
        raise HostConfigError(path, f"not valid TOML: {err}", "fix the file: containerd cannot read it either",
                              err.line) from err
