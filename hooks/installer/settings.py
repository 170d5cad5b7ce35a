"""Settings of one installer run: command-line flags first, then the DaemonSet's environment.

Every flag has an environment variable of the chart contract (NODE_NAME, SHIMS, ...);
a flag given on the command line wins over the variable.
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hooks import naming
from hooks import shims as shim_catalog
from hooks.installer.errors import SettingsError

DEFAULT_ARTIFACTS = "/opt/kata-artifacts"

# uname machine -> (Kubernetes arch of DEFAULT_SHIM_<ARCH>, qemu-system-<arch> binary suffix)
ARCHES: dict[str, tuple[str, str]] = {
    "x86_64": ("amd64", "x86_64"),
    "aarch64": ("arm64", "aarch64"),
    "s390x": ("s390x", "s390x"),
    "ppc64le": ("ppc64le", "ppc64"),
}

# Keys SHIM_OVERRIDES may set in a shim's [hypervisor.<section>] table, with their TOML type.
OVERRIDE_TYPES: dict[str, type] = {
    "path": str, "kernel": str, "image": str, "initrd": str, "firmware": str,
    "machine_type": str, "kernel_params": str, "shared_fs": str, "virtio_fs_daemon": str,
    "virtio_fs_extra_args": list, "virtio_fs_cache": str, "default_vcpus": int, "default_memory": int,
}

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off", ""}

Overrides = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Settings:
    host_root: Path
    install: naming.Install
    distribution: str = "k8s"
    artifacts: Path = Path(DEFAULT_ARTIFACTS)
    containerd_config_dir: str = ""
    containerd_config_file: str = ""
    crio: bool = False
    containerd_version: str = ""
    arch: str = "x86_64"
    overrides: Overrides = field(default_factory=dict)
    restart: bool = True
    k8s: bool = True
    node_name: str = ""
    namespace: str = ""
    daemonset_name: str = ""
    # Shims came from the command line or environment (False: the defaults were used).
    shims_given: bool = True

    @property
    def layout(self) -> naming.ContainerdLayout:
        return naming.DISTRIBUTIONS[self.distribution]

    @property
    def config_dir(self) -> str:
        """The containerd configuration directory (host path), after overrides."""
        return (self.containerd_config_dir or self.layout.config_dir).rstrip("/") or "/"

    @property
    def config_file(self) -> str:
        """The containerd main configuration file (host path), after overrides."""
        return f"{self.config_dir.rstrip('/')}/{self.containerd_config_file or self.layout.config_file}"

    @property
    def qemu_arch(self) -> str:
        return ARCHES[self.arch][1]


def parse_bool(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean", "use true or false")


def parse_overrides(text: str, source: str = "SHIM_OVERRIDES") -> dict[str, dict[str, Any]]:
    """Validate the per-shim hypervisor overrides (JSON: {"qemu": {"kernel": "/x"}})."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise SettingsError(
            f"{source} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})",
            'pass an object such as {"qemu": {"kernel": "/opt/x/vmlinux"}}',
        ) from err
    if not isinstance(raw, dict):
        raise SettingsError(f"{source} must be a JSON object of shim name -> settings", "wrap it in {...}")
    result: dict[str, dict[str, Any]] = {}
    for shim, values in raw.items():
        try:
            shim_catalog.lookup(shim)
        except shim_catalog.UnknownShimError as err:
            raise SettingsError(f"{source}: {err}") from err
        if not isinstance(values, dict):
            raise SettingsError(f"{source}[{shim!r}] must be an object", "use {\"kernel\": \"/path\"}")
        for key, value in values.items():
            expected = OVERRIDE_TYPES.get(key)
            if expected is None:
                raise SettingsError(
                    f"{source}[{shim!r}]: key {key!r} is not an allowed hypervisor override",
                    f"use one of {', '.join(OVERRIDE_TYPES)}",
                )
            ok = isinstance(value, expected) and not isinstance(value, bool)
            if ok and expected is list:
                ok = all(isinstance(item, str) for item in value)
            if not ok:
                kind = "a list of strings" if expected is list else f"a {expected.__name__}"
                raise SettingsError(f"{source}[{shim!r}][{key!r}] = {value!r} must be {kind}", "fix the value type")
        result[shim] = dict(values)
    return result


class _Lookup:
    """Flag value if given, else the environment variable, else a default."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str]) -> None:
        self.args = args
        self.env = env

    def text(self, flag: str, var: str, default: str = "") -> str:
        value = getattr(self.args, flag, None)
        if value is not None:
            return str(value)
        return self.env.get(var, default)

    def given(self, flag: str, var: str) -> bool:
        return getattr(self.args, flag, None) is not None or bool(self.env.get(var, "").strip())

    def flag(self, flag: str, var: str, default: bool = False) -> bool:
        value = getattr(self.args, flag, None)
        if value is not None:
            return bool(value)
        raw = self.env.get(var)
        return default if raw is None else parse_bool(var, raw)


def resolve(args: argparse.Namespace, env: Mapping[str, str], saved_shims: tuple[str, ...] = ()) -> Settings:
    """Build the settings of a run from flags and environment; raise SettingsError on bad input.

    `saved_shims` (from an existing install's manifest) replaces the defaults when
    neither flag nor environment names the shims (cleanup of an install made with others).
    """
    get = _Lookup(args, env)
    arch = get.text("arch", "KATA_DEPLOY_ARCH", platform.machine())
    if arch not in ARCHES:
        raise SettingsError(f"architecture {arch!r} is not supported", f"use one of {', '.join(ARCHES)}")
    shims_given = get.given("shims", "SHIMS")
    try:
        if shims_given:
            shims = shim_catalog.parse_list(get.text("shims", "SHIMS"))
            if not shims:
                raise SettingsError("the shim list is empty", "name at least one shim, e.g. --shims qemu")
        else:
            shims = saved_shims or shim_catalog.DEFAULT_SHIMS
        default_shim = get.text("default_shim", f"DEFAULT_SHIM_{ARCHES[arch][0].upper()}").strip()
        if not default_shim:
            default_shim = shim_catalog.DEFAULT_SHIM if shim_catalog.DEFAULT_SHIM in shims else sorted(shims)[0]
        shim_catalog.lookup(default_shim)
        prefix = get.text("installation_prefix", "INSTALLATION_PREFIX").strip()
        install = naming.Install.validated(
            get.text("suffix", "MULTI_INSTALL_SUFFIX").strip(),
            shims,
            default_shim,
            get.flag("debug", "DEBUG"),
            prefix,
        )
    except naming.SuffixError as err:
        raise SettingsError(str(err)) from err
    except ValueError as err:  # unknown shim, default shim not enabled, relative prefix
        raise SettingsError(str(err)) from err
    distribution = get.text("distribution", "K8S_DISTRIBUTION", "k8s").strip() or "k8s"
    if distribution not in naming.DISTRIBUTIONS:
        raise SettingsError(
            f"unknown Kubernetes distribution {distribution!r}", f"use one of {', '.join(naming.DISTRIBUTIONS)}"
        )
    config_file = get.text("containerd_config_file", "CONTAINERD_CONFIG_FILE").strip()
    if "/" in config_file:
        raise SettingsError(
            f"containerd config file name {config_file!r} contains '/'",
            "give the directory with --containerd-config-dir and a plain file name here",
        )
    config_dir = get.text("containerd_config_dir", "CONTAINERD_CONFIG_DIR").strip()
    if config_dir and not config_dir.startswith("/"):
        raise SettingsError(f"containerd config dir {config_dir!r} is relative", "give an absolute host path")
    host_root = Path(get.text("host_root", "HOST_ROOT", "/") or "/")
    k8s = not get.flag("no_k8s", "NO_K8S")
    node_name = get.text("node_name", "NODE_NAME").strip()
    if k8s and getattr(args, "command", "") in {"install", "cleanup", "run"} and not node_name:
        raise SettingsError("the node name is unknown (NODE_NAME is empty)", "pass --node-name NODE or --no-k8s")
    return Settings(
        host_root=host_root,
        install=install,
        distribution=distribution,
        artifacts=Path(get.text("artifacts", "ARTIFACTS", DEFAULT_ARTIFACTS)),
        containerd_config_dir=config_dir,
        containerd_config_file=config_file,
        crio=get.flag("crio", "CRIO"),
        containerd_version=get.text("containerd_version", "CONTAINERD_VERSION").strip(),
        arch=arch,
        overrides=parse_overrides(get.text("shim_overrides", "SHIM_OVERRIDES")),
        restart=not get.flag("no_restart", "NO_RESTART"),
        k8s=k8s,
        node_name=node_name,
        namespace=get.text("namespace", "POD_NAMESPACE").strip(),
        daemonset_name=get.text("daemonset_name", "DAEMONSET_NAME").strip(),
        shims_given=shims_given,
    )
