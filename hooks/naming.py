"""The suffix rules and every name or path derived from a suffix: the single source of truth.

The chart mirrors these rules in ``chart/templates/_helpers.tpl`` and the schema in
``chart/values.schema.json``; ``tests/chart/test_suffix_agreement.py`` proves all three agree.

Naming is suffix-last, as upstream kata-deploy does it: install dir ``/opt/kata-<S>``,
handler and RuntimeClass ``kata-<shim>-<S>``, debug variant ``kata-<shim>-<S>-debug``,
objects ``kata-deploy-<S>[-<component>]``. An empty suffix is today's unsuffixed install.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from hooks import shims as shim_catalog

SUFFIX_PATTERN = r"^[a-z]([a-z0-9-]*[a-z0-9])?$"
MAX_SUFFIX_LENGTH = 32
# DNS-1123 labels (RuntimeClass handlers, label name parts and values, Job names).
NAME_LIMIT = 63
# DaemonSet pods are named from the DaemonSet name plus a generated part; past this
# length Kubernetes cuts the name and pods of different installs become hard to tell apart.
DAEMONSET_NAME_LIMIT = 52

CHART_NAME = "kata-deploy"
UNSUFFIXED_TAG = "default"
# Handler variants: ours creates `-debug`; upstream installs may also carry `-devkit`.
VARIANTS = ("debug", "devkit")
CHART_VARIANTS = ("debug",)
# Objects named `kata-deploy-<S>-<component>` besides the installer's own `kata-deploy-<S>`.
COMPONENTS = ("preflight", "cleanup")
# `deploy` would make `kata-deploy-deploy` read as a doubled suffix.
RESERVED_WORDS = ("default", "debug", "devkit", "kata", "deploy")

SHARED_NODE_LABEL = "katacontainers.io/kata-runtime"
NODE_MARK_PREFIX = "kata-deploy.katacontainers.io/"
SUFFIX_LABEL = "katacontainers.io/multi-install-suffix"

_SUFFIX_RE = re.compile(SUFFIX_PATTERN)


@dataclass(frozen=True)
class ContainerdLayout:
    """Where a distribution keeps containerd's configuration on the host."""

    config_dir: str
    # The file containerd (or the distribution's template) reads first.
    config_file: str
    # Directory whose `*.toml` the main configuration imports; install drop-ins go here.
    dropin_dir: str
    # systemd unit to restart after a change.
    service: str


DISTRIBUTIONS: dict[str, ContainerdLayout] = {
    "k8s": ContainerdLayout("/etc/containerd", "config.toml", "/etc/containerd/conf.d", "containerd"),
    "k3s": ContainerdLayout(
        "/var/lib/rancher/k3s/agent/etc/containerd", "config.toml.tmpl",
        "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.d", "k3s",
    ),
    "rke2": ContainerdLayout(
        "/var/lib/rancher/rke2/agent/etc/containerd", "config.toml.tmpl",
        "/var/lib/rancher/rke2/agent/etc/containerd/config.toml.d", "rke2-server",
    ),
    "k0s": ContainerdLayout("/etc/k0s", "containerd.toml", "/etc/k0s/containerd.d", "k0scontroller"),
    "microk8s": ContainerdLayout(
        "/var/snap/microk8s/current/args", "containerd-template.toml",
        "/var/snap/microk8s/current/args/conf.d", "snap.microk8s.daemon-containerd",
    ),
}
CRIO_DROPIN_DIR = "/etc/crio/crio.conf.d"
# One lock for every install on a node: installs of different suffixes share the CRI config.
NODE_LOCK_FILE = "/run/lock/kata-deploy.lock"


class SuffixError(ValueError):
    """A suffix that cannot be used. The message names the value, the rule it broke and a fix."""

    def __init__(self, value: str, rule: str, reason: str, suggestion: str | None) -> None:
        self.value = value
        self.rule = rule
        self.reason = reason
        self.suggestion = suggestion
        fix = f"use {suggestion!r} instead" if suggestion else "choose another suffix"
        super().__init__(f"invalid multiInstallSuffix {value!r}: {reason}. Fix: {fix}.")


def shim_tails(names: Iterable[str] | None = None) -> tuple[str, ...]:
    """Every `T` such that `<shimA>-T` is another shim's name (`snp` from qemu/qemu-snp).

    A suffix equal to such a tail, or starting with `T-`, would make `kata-<shimA>-<S>`
    the handler of that other shim in some install.
    """
    known = sorted(names if names is not None else shim_catalog.CATALOG)
    tails = {b[len(a) + 1 :] for a in known for b in known if b.startswith(a + "-")}
    return tuple(sorted(tails))


def _collision(suffix: str) -> str | None:
    """Why `suffix` would give a name that another install could also own, or None."""
    if suffix in RESERVED_WORDS:
        return f"{suffix!r} is reserved: it names the unsuffixed install or one of its variants"
    for shim in shim_catalog.CATALOG:
        if suffix == shim:
            return f"{suffix!r} is a shim name, so RuntimeClass 'kata-{suffix}' is that shim's unsuffixed handler"
        if suffix.startswith(shim + "-"):
            rest = suffix[len(shim) + 1 :]
            return (
                f"the default RuntimeClass 'kata-{suffix}' would equal the handler of shim {shim!r} "
                f"in an install with suffix {rest!r}"
            )
    for tail in shim_tails():
        if suffix == tail or suffix.startswith(tail + "-"):
            owner = next(b for b in sorted(shim_catalog.CATALOG) if b.endswith("-" + tail))
            base = owner[: -len(tail) - 1]
            other = suffix[len(tail) + 1 :]
            clash = f"the unsuffixed handler of shim {owner!r}" if not other else (
                f"the handler of shim {owner!r} with suffix {other!r}"
            )
            return f"handler 'kata-{base}-{suffix}' would equal {clash}"
    for variant in VARIANTS:
        if suffix.endswith("-" + variant):
            base = suffix[: -len(variant) - 1]
            return (
                f"handler 'kata-<shim>-{suffix}' would equal the {variant} variant of the install "
                f"with suffix {base!r}"
            )
    for component in COMPONENTS:
        if suffix == component or suffix.endswith("-" + component):
            base = suffix[: -len(component)].rstrip("-")
            owner = f"install with suffix {base!r}" if base else "unsuffixed install"
            return f"object name 'kata-deploy-{suffix}' would equal the {component} objects of the {owner}"
    return None


def _format_problem(value: str) -> str | None:
    if _SUFFIX_RE.match(value):
        return None
    extra = ""
    if re.search(r"[A-Z_.]", value):
        extra = (
            " (the seed proposal allowed '_', '.' and uppercase, as in '1.12' or '2.0', "
            "but Kubernetes names and RuntimeClass handlers do not)"
        )
    return (
        f"it must match {SUFFIX_PATTERN}: lowercase letters, digits and '-', "
        f"starting with a letter and ending with a letter or digit{extra}"
    )


def suffix_budget(enabled_shims: Iterable[str], debug: bool) -> int:
    """The longest suffix whose every derived name fits its Kubernetes limit."""
    longest_shim = max((len(s) for s in enabled_shims), default=0)
    variant = len("-debug") if debug else 0
    prefix = len(CHART_NAME) + 1
    longest_component = max(len(c) for c in COMPONENTS) + 1
    return min(
        MAX_SUFFIX_LENGTH,
        NAME_LIMIT - len("kata-") - longest_shim - 1 - variant,
        DAEMONSET_NAME_LIMIT - prefix,
        NAME_LIMIT - prefix - longest_component,
    )


def _candidates(value: str) -> Iterable[str]:
    base = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    if not base:
        return
    if base[0].isdigit():
        yield "v" + base
    else:
        yield base
    yield f"my-{base}"
    yield f"{base}-1"


def suggest(value: str, enabled_shims: Iterable[str] = shim_catalog.DEFAULT_SHIMS, debug: bool = False) -> str | None:
    """A valid suffix close to what the user typed (`1.12` -> `v1-12`, `Dev_Build` -> `dev-build`)."""
    enabled = _sorted_shims(enabled_shims)
    budget = suffix_budget(enabled, debug)
    for candidate in _candidates(value):
        candidate = candidate[:budget].rstrip("-")
        if candidate and candidate != value and _problem(candidate, enabled, debug) is None:
            return candidate
    return None


def _problem(value: str, enabled: tuple[str, ...], debug: bool) -> tuple[str, str] | None:
    """The first rule `value` breaks, as (rule, reason), or None. The empty suffix is valid."""
    if value == "":
        return None
    reason = _format_problem(value)
    if reason:
        return "format", reason
    if len(value) > MAX_SUFFIX_LENGTH:
        return "length", f"it has {len(value)} characters, more than the limit of {MAX_SUFFIX_LENGTH}"
    reason = _collision(value)
    if reason:
        return "collision", reason
    too_long = Install(value, enabled, debug=debug).too_long_names()
    if too_long:
        name, limit = too_long[0]
        budget = suffix_budget(enabled, debug)
        return "budget", (
            f"derived name {name!r} has {len(name)} characters, over its limit of {limit}; "
            f"with shims {','.join(enabled)} and debug={'on' if debug else 'off'} "
            f"the suffix budget is {budget} characters"
        )
    return None


def _sorted_shims(names: Iterable[str]) -> tuple[str, ...]:
    """Enabled shims in one canonical order (the chart's, which ranges over a map)."""
    unique = set(names)
    for name in unique:
        shim_catalog.lookup(name)
    return tuple(sorted(unique))


def validate_suffix(value: str, enabled_shims: Iterable[str] = shim_catalog.DEFAULT_SHIMS, debug: bool = False) -> str:
    """Return `value` unchanged if it is a usable suffix, else raise SuffixError.

    Never rewrites what the user asked for: a suggestion goes into the error only.
    """
    enabled = _sorted_shims(enabled_shims)
    problem = _problem(value, enabled, debug)
    if problem:
        rule, reason = problem
        raise SuffixError(value, rule, reason, suggest(value, enabled, debug))
    return value


@dataclass(frozen=True)
class RuntimeClassName:
    name: str
    handler: str
    shim: str
    variant: str = ""


@dataclass(frozen=True)
class Install:
    """Every name and path one install derives from its suffix and settings."""

    suffix: str = ""
    shims: tuple[str, ...] = shim_catalog.DEFAULT_SHIMS
    default_shim: str = shim_catalog.DEFAULT_SHIM
    debug: bool = False
    installation_prefix: str = ""
    _dash_suffix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dash_suffix", f"-{self.suffix}" if self.suffix else "")

    @classmethod
    def validated(
        cls,
        suffix: str,
        shims: Iterable[str] = shim_catalog.DEFAULT_SHIMS,
        default_shim: str = shim_catalog.DEFAULT_SHIM,
        debug: bool = False,
        installation_prefix: str = "",
    ) -> Install:
        enabled = _sorted_shims(shims)
        validate_suffix(suffix, enabled, debug)
        if default_shim not in enabled:
            raise ValueError(
                f"default shim {default_shim!r} is not among the enabled shims ({','.join(enabled)}). "
                "Fix: enable it or pick an enabled shim as the default."
            )
        if installation_prefix and not installation_prefix.startswith("/"):
            raise ValueError(
                f"installation prefix {installation_prefix!r} is relative; it must be an absolute path. "
                f"Fix: use '/{installation_prefix.removeprefix('./')}'."
            )
        return cls(suffix, enabled, default_shim, debug, installation_prefix.rstrip("/"))

    # --- identity -------------------------------------------------------------------
    @property
    def tag(self) -> str:
        """The suffix, or `default` for the unsuffixed install (labels, node mark)."""
        return self.suffix or UNSUFFIXED_TAG

    @property
    def fullname(self) -> str:
        return f"{CHART_NAME}{self._dash_suffix}"

    def component_name(self, component: str) -> str:
        if component not in COMPONENTS:
            raise ValueError(f"unknown component {component!r}")
        return f"{self.fullname}-{component}"

    @property
    def node_mark(self) -> str:
        return NODE_MARK_PREFIX + self.tag

    # --- host paths -----------------------------------------------------------------
    @property
    def install_dir(self) -> str:
        return f"{self.installation_prefix}/opt/kata{self._dash_suffix}"

    @property
    def containerd_dropin(self) -> str:
        """File name of this install's containerd drop-in (one per install, never shared)."""
        return f"{self.fullname}.toml"

    @property
    def crio_dropin(self) -> str:
        return f"99-{self.fullname}.conf"

    def qemu_wrapper(self, arch: str = "x86_64") -> str:
        return f"{self.install_dir}/bin/qemu-system-{arch}-installation-prefix"

    # --- runtime handlers -----------------------------------------------------------
    def handler(self, shim: str, variant: str = "") -> str:
        return f"kata-{shim}{self._dash_suffix}" + (f"-{variant}" if variant else "")

    def runtime_type(self, shim: str, variant: str = "") -> str:
        return f"io.containerd.{self.handler(shim, variant)}.v2"

    @property
    def default_runtime_class(self) -> RuntimeClassName:
        return RuntimeClassName(f"kata{self._dash_suffix}", self.handler(self.default_shim), self.default_shim)

    def runtime_classes(self) -> list[RuntimeClassName]:
        classes = []
        for shim in self.shims:
            classes.append(RuntimeClassName(self.handler(shim), self.handler(shim), shim))
            if self.debug:
                for variant in CHART_VARIANTS:
                    handler = self.handler(shim, variant)
                    classes.append(RuntimeClassName(handler, handler, shim, variant))
        return [*classes, self.default_runtime_class]

    def handlers(self) -> list[str]:
        return [rc.handler for rc in self.runtime_classes() if rc.name == rc.handler]

    # --- limits ---------------------------------------------------------------------
    def object_names(self) -> dict[str, str]:
        """Kubernetes object names of the release, by role."""
        names = {"installer": self.fullname}
        names.update({component: self.component_name(component) for component in COMPONENTS})
        return names

    def too_long_names(self) -> list[tuple[str, int]]:
        """Derived names over their limit, as (name, limit), longest overrun first."""
        checks = [(self.fullname, DAEMONSET_NAME_LIMIT), (self.tag, NAME_LIMIT)]
        checks += [(name, NAME_LIMIT) for name in self.object_names().values()]
        checks += [(rc.name, NAME_LIMIT) for rc in self.runtime_classes()]
        over = [(name, limit) for name, limit in checks if len(name) > limit]
        return sorted(over, key=lambda item: len(item[0]) - item[1], reverse=True)

    def describe(self) -> dict[str, object]:
        """Everything this install derives, for `kata-deploy check-suffix` and the tests."""
        return {
            "suffix": self.suffix,
            "tag": self.tag,
            "install_dir": self.install_dir,
            "default_runtime_class": self.default_runtime_class.name,
            "runtime_classes": {rc.name: rc.handler for rc in self.runtime_classes()},
            "runtime_types": {h: f"io.containerd.{h}.v2" for h in self.handlers()},
            "containerd_dropin": self.containerd_dropin,
            "crio_dropin": self.crio_dropin,
            "qemu_wrapper": self.qemu_wrapper() if any(
                shim_catalog.CATALOG[s].uses_qemu for s in self.shims
            ) else None,
            "node_labels": {SHARED_NODE_LABEL: "true", self.node_mark: "true"},
            "suffix_label": {SUFFIX_LABEL: self.tag},
            "objects": self.object_names(),
        }


# --- node installer: host paths and names (hooks/installer) ----------------------
# Upstream kata-static files name the unsuffixed install dir; a suffixed or prefixed
# install rewrites exactly this prefix (see hooks/installer/configs.py).
PRISTINE_INSTALL_DIR = "/opt/kata"
# Directory inside an install dir holding the installer's own record of that install.
INSTALL_STATE_DIR = ".kata-deploy"
INSTALL_MANIFEST = f"{INSTALL_STATE_DIR}/install.json"
# Drop-in directory of k3s/rke2 for containerd config version 3 (`dropin_dir` is version 2's).
TEMPLATE_V3_DROPIN_DIRNAME = "config-v3.toml.d"
# The readiness file of the installer pod (the chart's readinessProbe cats it).
READY_FILE = "/tmp/kata-deploy/ready"
# systemd units that may run the CRI of a distribution, first match wins (agents vs servers).
CRI_SERVICE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "k3s": ("k3s", "k3s-agent"),
    "rke2": ("rke2-server", "rke2-agent"),
    "k0s": ("k0scontroller", "k0sworker"),
}
CRIO_SERVICE = "crio"


def private_containerd_dropin(install: Install) -> str:
    """This install's containerd drop-in when the main config must import it by path."""
    return f"{install.install_dir}/containerd/{install.containerd_dropin}"


def generated_shim_config(install: Install, shim: str, variant: str = "") -> str:
    """Absolute path of the configuration a handler of `shim` (or its variant) runs with."""
    spec = shim_catalog.lookup(shim)
    if not variant:
        return f"{install.install_dir}/{spec.generated_config}"
    return f"{install.install_dir}/{spec.config_dir}/runtimes/{shim}-{variant}/configuration-{shim}.toml"
