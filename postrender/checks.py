"""The rules every object of a rendered kata-deploy release must follow.

Expected names come from hooks.naming, so the renderer checks against exactly what
the installer and the chart derive from the suffix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hooks import naming
from hooks import shims as shim_catalog
from postrender.stream import Document

INSTALLER_CONTAINER = "installer"
DOUBLED_PREFIX = "installation-prefix-installation-prefix"
# Kinds whose objects are named after a component: kata-deploy-<S>[-preflight|-cleanup].
_COMPONENT_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


@dataclass(frozen=True)
class Violation:
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


class PostRenderError(Exception):
    """The rendered release breaks a rule; nothing is written."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        count = len(violations)
        super().__init__(f"kata-deploy-postrender refused the rendered release ({count} problem(s)):\n{lines}")


def installer_env(document: Document) -> dict[str, str]:
    """Literal env of the installer container of a DaemonSet (valueFrom entries skipped)."""
    containers = document.body.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    for container in containers:
        if container.get("name") == INSTALLER_CONTAINER:
            return {e["name"]: str(e.get("value", "")) for e in container.get("env") or [] if "valueFrom" not in e}
    return {}


def find_install(documents: list[Document]) -> naming.Install:
    """Derive the install from the installer DaemonSet's settings, validating the suffix."""
    installers = [d for d in documents if d.kind == "DaemonSet" and "MULTI_INSTALL_SUFFIX" in installer_env(d)]
    if len(installers) != 1:
        found = ", ".join(d.where for d in installers) or "none"
        raise PostRenderError([Violation(
            "release", "DaemonSet",
            f"expected exactly one kata-deploy installer DaemonSet (an '{INSTALLER_CONTAINER}' container with "
            f"MULTI_INSTALL_SUFFIX in its env), found {found}. Is this the kata-deploy chart?",
        )])
    env = installer_env(installers[0])
    try:
        return naming.Install.validated(
            env["MULTI_INSTALL_SUFFIX"],
            shim_catalog.parse_list(env.get("SHIMS", "")),
            env.get("DEFAULT_SHIM_AMD64") or shim_catalog.DEFAULT_SHIM,
            env.get("DEBUG") == "true",
            env.get("INSTALLATION_PREFIX", ""),
        )
    except ValueError as err:
        raise PostRenderError([Violation(installers[0].where, "env", str(err))]) from err


def strings_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in an object (keys included), with its JSON-pointer-like path."""
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}/{key}"
            yield child + " (key)", str(key)
            yield from strings_in(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}/{index}")
    elif isinstance(value, str):
        yield path, value


def expected_names(install: naming.Install, kind: str) -> set[str] | None:
    """The names an object of `kind` may have in this install, or None for kinds the chart never renders."""
    objects = install.object_names()
    if kind == "DaemonSet":
        return {objects["installer"]}
    if kind == "Job":
        return {objects[c] for c in naming.COMPONENTS}
    if kind in _COMPONENT_KINDS:
        return set(objects.values())
    if kind == "RuntimeClass":
        return {rc.name for rc in install.runtime_classes()}
    return None


def check_document(install: naming.Install, document: Document) -> list[Violation]:
    problems: list[Violation] = []

    def add(field: str, message: str) -> None:
        problems.append(Violation(document.where, field, message))

    body = document.body
    metadata = body.get("metadata") or {}
    allowed = expected_names(install, document.kind)
    if allowed is None:
        add("kind", f"the kata-deploy chart renders no {document.kind}; refusing an object this check cannot vouch for")
    elif document.name not in allowed:
        add("metadata.name", f"{document.name!r} is not a name of the install with suffix {install.suffix!r} "
                             f"(expected one of {sorted(allowed)})")
    for key, value in (metadata.get("labels") or {}).items():
        if len(str(value)) > naming.NAME_LIMIT:
            add(f"metadata.labels.{key}", f"value {value!r} is over {naming.NAME_LIMIT} characters")
    stamped = (metadata.get("labels") or {}).get(naming.SUFFIX_LABEL)
    if stamped is not None and stamped != install.tag:
        add(f"metadata.labels.{naming.SUFFIX_LABEL}",
            f"{stamped!r} belongs to another install; expected {install.tag!r}")

    doubled = re.compile(rf"(?<![a-z0-9]){re.escape(install.suffix)}-{re.escape(install.suffix)}(?![a-z0-9])")
    for path, text in strings_in(body):
        if DOUBLED_PREFIX in text:
            add(path, f"{text!r} repeats '-installation-prefix'")
        if install.suffix and doubled.search(text):
            add(path, f"{text!r} carries the suffix {install.suffix!r} twice")

    if document.kind == "RuntimeClass":
        expected = {rc.name: rc.handler for rc in install.runtime_classes()}
        handler = body.get("handler")
        if document.name in expected and handler != expected[document.name]:
            add("handler", f"{handler!r} should be {expected[document.name]!r}")
        selector = (body.get("scheduling") or {}).get("nodeSelector") or {}
        for label in (naming.SHARED_NODE_LABEL, install.node_mark):
            if selector.get(label) != "true":
                add("scheduling.nodeSelector", f"must require {label}=true so pods land only on nodes of this install")
    if document.kind == "DaemonSet":
        problems += _check_installer(install, document)
    if document.kind == "Job" and "helm.sh/hook" in (metadata.get("annotations") or {}):
        problems += _check_hook(document)
    return problems


def _check_installer(install: naming.Install, document: Document) -> list[Violation]:
    problems = []
    env = installer_env(document)
    for key, expected in (("MULTI_INSTALL_SUFFIX", install.suffix), ("DAEMONSET_NAME", install.fullname)):
        if env.get(key) != expected:
            problems.append(Violation(document.where, f"env.{key}", f"{env.get(key)!r} should be {expected!r}"))
    volumes = document.body.get("spec", {}).get("template", {}).get("spec", {}).get("volumes") or []
    for volume in volumes:
        path = (volume.get("hostPath") or {}).get("path", "")
        if "/opt/kata" in path and path != install.install_dir:
            problems.append(Violation(
                document.where, f"volumes.{volume.get('name')}.hostPath",
                f"{path!r} is not this install's directory {install.install_dir!r}",
            ))
    return problems


def _check_hook(document: Document) -> list[Violation]:
    problems = []
    spec = document.body.get("spec") or {}
    if "backoffLimit" not in spec:
        problems.append(Violation(document.where, "spec.backoffLimit",
                                  "a hook Job must set backoffLimit (the default 6 retries pile up failed pods)"))
    policy = (document.body["metadata"].get("annotations") or {}).get("helm.sh/hook-delete-policy", "")
    if "before-hook-creation" not in policy.split(","):
        problems.append(Violation(document.where, "helm.sh/hook-delete-policy",
                                  f"{policy!r} lacks before-hook-creation: a rerun would fail on the old Job"))
    return problems


def check(install: naming.Install, documents: list[Document]) -> list[Violation]:
    problems: list[Violation] = []
    seen: set[tuple[str, str]] = set()
    for document in documents:
        identity = (document.kind, document.name)
        if identity in seen:
            problems.append(Violation(document.where, "metadata.name", "appears twice in the release"))
        seen.add(identity)
        problems += check_document(install, document)
    return problems
