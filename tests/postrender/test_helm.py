"""The renderer under the real helm: Helm 3 by path, Helm 4 as a postrenderer/v1 plugin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from postrender import transform
from tests.conftest import REPO, Helm, documents

PLUGIN = REPO / "postrender" / "helm-plugin"
BAD_PATCH = [{"target": {"kind": "DaemonSet"},
              "patch": [{"op": "replace", "path": "/spec/template/spec/volumes/0/hostPath/path",
                         "value": "/opt/kata-cicd-cicd"}]}]


@pytest.fixture()
def helm4_home(helm4: Helm, tmp_path: Path) -> dict[str, str]:
    """An isolated Helm 4 home with the project's plugin installed by `helm plugin install`."""
    env = {f"HELM_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CONFIG", "DATA", "CACHE")}
    result = helm4.run("plugin", "install", str(PLUGIN), env=env, check=True)
    assert "Installed plugin: kata-deploy-postrender" in result.stdout + result.stderr
    return env


def bad_patch_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad-patch.yaml"
    path.write_text(yaml.safe_dump(BAD_PATCH))
    return path


def stamped(objects: list[dict[str, object]]) -> bool:
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    annotations = daemonset["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    return transform.CONFIG_DIGEST_ANNOTATION in annotations and all(
        o["metadata"]["labels"]["katacontainers.io/multi-install-suffix"] == "cicd" for o in objects  # type: ignore[index]
    )


def test_helm3_post_renderer_by_path(helm: Helm) -> None:
    result = helm.template("--set", "multiInstallSuffix=cicd", "--post-renderer", "kata-deploy-postrender")
    objects = documents(result.stdout)
    assert stamped(objects)
    # Helm 3 never passes hooks to a renderer: they come after, as rendered.
    jobs = [o for o in objects if o["kind"] == "Job"]
    assert len(jobs) == 2


def test_helm3_shows_the_renderer_message(helm: Helm, tmp_path: Path) -> None:
    result = helm.template("--set", "multiInstallSuffix=cicd", "--post-renderer", "kata-deploy-postrender",
                           "--post-renderer-args", f"--patch={bad_patch_file(tmp_path)}", check=False)
    assert result.returncode != 0
    assert "DaemonSet/kata-deploy-cicd" in result.stderr and "/opt/kata-cicd-cicd" in result.stderr


def test_helm4_plugin_renders_and_checks_hooks(helm4: Helm, helm4_home: dict[str, str]) -> None:
    result = helm4.run("template", "r", str(REPO / "chart"), "--set", "multiInstallSuffix=cicd",
                       "--post-renderer", "kata-deploy-postrender", env=helm4_home, check=True)
    objects = documents(result.stdout)
    assert stamped(objects)
    hooks = [o for o in objects if "helm.sh/hook" in (o["metadata"].get("annotations") or {})]  # type: ignore[union-attr]
    assert {o["metadata"]["name"] for o in hooks if o["kind"] == "Job"} == {  # type: ignore[index]
        "kata-deploy-cicd-preflight", "kata-deploy-cicd-cleanup"}


def test_helm4_hides_the_message_so_check_mode_reveals_it(helm4: Helm, helm4_home: dict[str, str],
                                                         tmp_path: Path) -> None:
    result = helm4.run("template", "r", str(REPO / "chart"), "--set", "multiInstallSuffix=cicd",
                       "--post-renderer", "kata-deploy-postrender",
                       "--post-renderer-args", f"--patch={bad_patch_file(tmp_path)}", env=helm4_home)
    assert result.returncode != 0
    assert "kata-deploy-postrender" in result.stderr
    # The same refusal, readable, from `helm template` output plus the same patch:
    rendered = helm4.run("template", "r", str(REPO / "chart"), "--set", "multiInstallSuffix=cicd", check=True).stdout
    patched = subprocess.run(["kata-deploy-postrender", f"--patch={bad_patch_file(tmp_path)}"], input=rendered,
                             capture_output=True, text=True, check=False)
    assert patched.returncode == 1
    assert "volumes.opt-dir.hostPath: '/opt/kata-cicd-cicd' is not this install's directory" in patched.stderr


def test_check_mode_accepts_the_chart_and_names_problems(helm: Helm) -> None:
    rendered = helm.template("--set", "multiInstallSuffix=cicd").stdout
    ok = subprocess.run(["kata-deploy-postrender", "--check"], input=rendered, capture_output=True, text=True,
                        check=False)
    assert ok.returncode == 0 and "ok: install 'cicd'" in ok.stdout
    broken = subprocess.run(["kata-deploy-postrender", "--check"], input=rendered.replace(
        "handler: kata-fc-cicd", "handler: kata-fc-cicd-cicd"), capture_output=True, text=True, check=False)
    assert broken.returncode == 1
    assert "RuntimeClass/kata-fc-cicd" in broken.stderr and "handler" in broken.stderr
