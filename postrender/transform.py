"""What the renderer adds to a release: the suffix label, the configuration digest, user patches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jsonpatch

from hooks import naming
from postrender.checks import INSTALLER_CONTAINER, installer_env
from postrender.stream import Document

CONFIG_DIGEST_ANNOTATION = "kata-deploy.katacontainers.io/config-digest"


class PatchError(ValueError):
    """A user patch that cannot be applied."""


@dataclass(frozen=True)
class Patch:
    """RFC 6902 operations for the objects of `kind` (named `name`, or all of them)."""

    kind: str
    name: str | None
    operations: list[dict[str, Any]]
    origin: str

    @classmethod
    def parse(cls, entries: Any, origin: str) -> list[Patch]:
        if not isinstance(entries, list):
            raise PatchError(f"{origin}: expected a list of {{target: {{kind, name}}, patch: [...]}} entries")
        patches = []
        for index, entry in enumerate(entries):
            where = f"{origin} entry {index}"
            target = entry.get("target") if isinstance(entry, dict) else None
            if not isinstance(target, dict) or not target.get("kind"):
                raise PatchError(f"{where}: needs target.kind (and optionally target.name)")
            operations = entry.get("patch")
            if not isinstance(operations, list) or not operations:
                raise PatchError(f"{where}: needs a non-empty RFC 6902 list under 'patch'")
            patches.append(cls(str(target["kind"]), target.get("name"), operations, where))
        return patches

    def matches(self, document: Document) -> bool:
        return document.kind == self.kind and (self.name is None or document.name == self.name)


def apply_patches(documents: list[Document], patches: list[Patch]) -> None:
    for patch in patches:
        targets = [d for d in documents if patch.matches(d)]
        if not targets:
            wanted = f"{patch.kind}/{patch.name}" if patch.name else f"any {patch.kind}"
            raise PatchError(f"{patch.origin}: no object matches {wanted} in the rendered release")
        for document in targets:
            try:
                document.body = jsonpatch.apply_patch(document.body, patch.operations)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
                raise PatchError(f"{patch.origin}: cannot apply to {document.where}: {err}") from err


def config_digest(document: Document) -> str:
    """sha256 of what the installer pods run with; the digest annotation itself is left out."""
    pod_spec = document.body.get("spec", {}).get("template", {}).get("spec", {})
    installer = next(c for c in pod_spec.get("containers", []) if c.get("name") == INSTALLER_CONTAINER)
    material = {
        "image": installer.get("image"),
        "command": installer.get("command"),
        "args": installer.get("args"),
        "env": installer.get("env"),
        "volumeMounts": installer.get("volumeMounts"),
        "volumes": pod_spec.get("volumes"),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def stamp(install: naming.Install, documents: list[Document]) -> None:
    """Label every object with the install's suffix; give the installer pods the config digest."""
    for document in documents:
        metadata = document.body.setdefault("metadata", {})
        labels = metadata.get("labels") or {}
        labels.setdefault(naming.SUFFIX_LABEL, install.tag)
        metadata["labels"] = labels
        if document.kind == "DaemonSet" and installer_env(document):
            template = document.body["spec"]["template"].setdefault("metadata", {})
            annotations = template.get("annotations") or {}
            annotations[CONFIG_DIGEST_ANNOTATION] = config_digest(document)
            template["annotations"] = annotations
