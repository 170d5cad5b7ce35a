"""The rules of a rendered release: each violation names the object and the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from postrender import checks, stream, transform

Mutation = Callable[[list[stream.Document]], None]


def find(documents: list[stream.Document], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(d.body for d in documents if d.kind == kind and (name is None or d.name == name))


def installer(documents: list[stream.Document]) -> dict[str, Any]:
    return find(documents, "DaemonSet")["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def set_env(documents: list[stream.Document], name: str, value: str) -> None:
    for env in installer(documents)["containers"][0]["env"]:
        if env["name"] == name:
            env["value"] = value


def violations(text: str, mutate: Mutation) -> list[checks.Violation]:
    documents = stream.parse(text)
    mutate(documents)
    install = checks.find_install(documents)
    return checks.check(install, documents)


def test_the_chart_output_is_clean(rendered_cicd: str, rendered_unsuffixed: str) -> None:
    for text in (rendered_cicd, rendered_unsuffixed):
        assert violations(text, lambda docs: None) == []


CASES: dict[str, tuple[Mutation, str, str]] = {
    "doubled suffix in a path": (
        lambda d: installer(d)["volumes"][0]["hostPath"].update(path="/opt/kata-cicd-cicd"),
        "volumes.opt-dir.hostPath", "not this install's directory",
    ),
    "doubled suffix in env": (
        lambda d: set_env(d, "LOG_LEVEL", "kata-cicd-cicd"), "/spec/template/spec/containers/0/env",
        "carries the suffix 'cicd' twice",
    ),
    "installation-prefix twice": (
        lambda d: find(d, "DaemonSet")["metadata"].setdefault("annotations", {}).update(
            x="/opt/kata-cicd/bin/qemu-system-x86_64-installation-prefix-installation-prefix"),
        "/metadata/annotations/x", "repeats '-installation-prefix'",
    ),
    "another install's RuntimeClass": (
        lambda d: find(d, "RuntimeClass", "kata-qemu-cicd")["metadata"].update(name="kata-qemu-v2"),
        "metadata.name", "'kata-qemu-v2' is not a name of the install with suffix 'cicd'",
    ),
    "handler mismatch": (
        lambda d: find(d, "RuntimeClass", "kata-cicd").update(handler="kata-fc-v2"),
        "handler", "'kata-fc-v2' should be 'kata-qemu-cicd'",
    ),
    "runtime class without the mark": (
        lambda d: find(d, "RuntimeClass", "kata-cicd")["scheduling"]["nodeSelector"].pop(
            "kata-deploy.katacontainers.io/cicd"),
        "scheduling.nodeSelector", "must require kata-deploy.katacontainers.io/cicd=true",
    ),
    "label of another install": (
        lambda d: find(d, "ServiceAccount")["metadata"]["labels"].update(
            {"katacontainers.io/multi-install-suffix": "v2"}),
        "metadata.labels.katacontainers.io/multi-install-suffix", "'v2' belongs to another install",
    ),
    "label over 63": (
        lambda d: find(d, "ServiceAccount")["metadata"]["labels"].update(team="x" * 64),
        "metadata.labels.team", "over 63 characters",
    ),
    "hook without backoffLimit": (
        lambda d: find(d, "Job", "kata-deploy-cicd-cleanup")["spec"].pop("backoffLimit"),
        "spec.backoffLimit", "must set backoffLimit",
    ),
    "hook without before-hook-creation": (
        lambda d: find(d, "Job", "kata-deploy-cicd-cleanup")["metadata"]["annotations"].update(
            {"helm.sh/hook-delete-policy": "hook-succeeded"}),
        "helm.sh/hook-delete-policy", "lacks before-hook-creation",
    ),
    "DAEMONSET_NAME of another install": (
        lambda d: set_env(d, "DAEMONSET_NAME", "kata-deploy-v2"), "env.DAEMONSET_NAME", "should be 'kata-deploy-cicd'",
    ),
    "an object the chart never renders": (
        lambda d: d.append(stream.Document({"kind": "Secret", "metadata": {"name": "kata-deploy-cicd"}})),
        "kind", "renders no Secret",
    ),
    "an object twice": (
        lambda d: d.append(copy.deepcopy(d[0])), "metadata.name", "appears twice",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_violation_names_object_and_field(rendered_cicd: str, case: str) -> None:
    mutate, field, message = CASES[case]
    found = violations(rendered_cicd, mutate)
    assert any(v.field.startswith(field) and message in v.message for v in found), found


@pytest.mark.parametrize(("suffix", "message"), [
    ("1.12", "invalid multiInstallSuffix '1.12'"),
    ("snp", "invalid multiInstallSuffix 'snp'"),
])
def test_invalid_suffix_in_the_stream_is_refused(rendered_cicd: str, suffix: str, message: str) -> None:
    documents = stream.parse(rendered_cicd)
    set_env(documents, "MULTI_INSTALL_SUFFIX", suffix)
    with pytest.raises(checks.PostRenderError, match=message) as caught:
        checks.find_install(documents)
    assert "DaemonSet/kata-deploy-cicd" in str(caught.value)


def test_a_stream_without_the_installer_is_refused() -> None:
    documents = stream.parse("kind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(checks.PostRenderError, match="expected exactly one kata-deploy installer DaemonSet"):
        checks.find_install(documents)


def test_stamp_labels_every_object_and_digests_the_config(rendered_cicd: str) -> None:
    documents = stream.parse(rendered_cicd)
    install = checks.find_install(documents)
    transform.stamp(install, documents)
    assert all(d.body["metadata"]["labels"]["katacontainers.io/multi-install-suffix"] == "cicd" for d in documents)
    template = find(documents, "DaemonSet")["spec"]["template"]["metadata"]
    digest = template["annotations"][transform.CONFIG_DIGEST_ANNOTATION]
    assert len(digest) == 64
    set_env(documents, "DEBUG", "false")
    assert transform.config_digest(next(d for d in documents if d.kind == "DaemonSet")) != digest
