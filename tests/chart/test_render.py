"""The chart rendered by the real helm: lint, scenarios, names, schema validation against Kubernetes 1.34."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from hooks import naming
from postrender.checks import strings_in
from tests.conftest import CHART, Helm, documents

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "RuntimeClass"}


def render(helm: Helm, *args: str, release: str = "r") -> list[dict[str, Any]]:
    return documents(helm.template(*args, release=release).stdout)  # type: ignore[return-value]


def test_scenarios_exist_for_every_distribution_and_feature() -> None:
    names = {p.name for p in SCENARIOS}
    assert {f"{d}-values.yaml" for d in naming.DISTRIBUTIONS if d != "k8s"} <= names
    assert {"default-values.yaml", "suffix-values.yaml", "debug-values.yaml", "all-shims-values.yaml"} <= names


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_lint_strict(any_helm: Helm, values: Path) -> None:
    result = any_helm.run("lint", "--strict", str(CHART), "-f", str(values))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_scenario_renders_valid_kubernetes_1_34_objects(helm: Helm, values: Path) -> None:
    objects = render(helm, "-f", str(values))
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, "1.34", strict=True)


def test_offline_validator_rejects_a_broken_object(helm: Helm) -> None:
    daemonset = next(o for o in render(helm) if o["kind"] == "DaemonSet")
    daemonset["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, "1.34", strict=True)


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_names_carry_the_suffix_exactly_once(helm: Helm, values: Path) -> None:
    objects = render(helm, "-f", str(values))
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    env = {e["name"]: e.get("value") for e in daemonset["spec"]["template"]["spec"]["containers"][0]["env"]}
    suffix = env["MULTI_INSTALL_SUFFIX"]
    install = naming.Install(suffix, tuple(env["SHIMS"].split(",")), env["DEFAULT_SHIM_AMD64"], env["DEBUG"] == "true",
                             env["INSTALLATION_PREFIX"])
    expected_rcs = {rc.name: rc.handler for rc in install.runtime_classes()}
    rendered_rcs = {o["metadata"]["name"]: o["handler"] for o in objects if o["kind"] == "RuntimeClass"}
    assert rendered_rcs == expected_rcs
    allowed = set(install.object_names().values())
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] != "RuntimeClass":
            assert name in allowed, (obj["kind"], name)
        if suffix:
            assert len(re.findall(rf"(?<![a-z0-9]){suffix}(?![a-z0-9])", name)) == 1, name
            doubled = re.compile(rf"(?<![a-z0-9]){suffix}-{suffix}(?![a-z0-9])")
            assert not [text for _, text in strings_in(obj) if doubled.search(text)]
        assert obj["metadata"]["labels"][naming.SUFFIX_LABEL] == install.tag
    volumes = {v["name"]: v["hostPath"]["path"] for v in daemonset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["opt-dir"] + f"/kata{'-' + suffix if suffix else ''}" == install.install_dir


@pytest.mark.parametrize("distribution", sorted(naming.DISTRIBUTIONS))
def test_containerd_config_dir_matches_the_installer(helm: Helm, distribution: str) -> None:
    objects = render(helm, "--set", f"k8sDistribution={distribution}")
    daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
    volumes = {v["name"]: v["hostPath"]["path"] for v in daemonset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["containerd-config"] == naming.DISTRIBUTIONS[distribution].config_dir


def test_two_releases_have_disjoint_cluster_scoped_names(helm: Helm) -> None:
    def cluster_names(release: str, suffix: str) -> set[tuple[str, str]]:
        objects = render(helm, "--set", f"multiInstallSuffix={suffix}", "--set", "debug=true", release=release)
        return {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in CLUSTER_SCOPED}

    first, second, unsuffixed = cluster_names("a", "cicd"), cluster_names("b", "v2"), cluster_names("c", "")
    assert first and second and unsuffixed
    assert not first & second and not first & unsuffixed and not second & unsuffixed


def test_hook_jobs_are_bounded_and_named_after_the_suffix(helm: Helm) -> None:
    jobs = {o["metadata"]["name"]: o for o in render(helm, "--set", "multiInstallSuffix=cicd") if o["kind"] == "Job"}
    assert set(jobs) == {"kata-deploy-cicd-preflight", "kata-deploy-cicd-cleanup"}
    events = {"kata-deploy-cicd-preflight": "pre-install,pre-upgrade", "kata-deploy-cicd-cleanup": "pre-delete"}
    for name, job in jobs.items():
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == events[name]
        assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        assert annotations["helm.sh/hook-output-log-policy"] == "hook-failed"
        assert job["spec"]["backoffLimit"] == 0
        assert job["spec"]["ttlSecondsAfterFinished"] >= 3600
        assert 0 < job["spec"]["activeDeadlineSeconds"] <= 300


def test_hook_rbac_is_created_before_its_job(helm: Helm) -> None:
    objects = render(helm, "--set", "multiInstallSuffix=cicd")
    for component in naming.COMPONENTS:
        name = f"kata-deploy-cicd-{component}"
        rbac = [o for o in objects if o["metadata"]["name"] == name and o["kind"] != "Job"]
        assert {o["kind"] for o in rbac} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
                                            "RoleBinding"}
        assert all(int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0 for o in rbac)


def test_runtime_classes_select_the_install_mark(helm: Helm) -> None:
    objects = render(helm, "--set", "multiInstallSuffix=cicd", "--set", "debug=true")
    classes = [o for o in objects if o["kind"] == "RuntimeClass"]
    assert "kata-cicd" in {c["metadata"]["name"] for c in classes}
    for rc in classes:
        assert rc["scheduling"]["nodeSelector"] == {
            "katacontainers.io/kata-runtime": "true", "kata-deploy.katacontainers.io/cicd": "true",
        }
        assert rc["overhead"]["podFixed"]["memory"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "multiInstallSuffix=a", "--set", "env.multiInstallSuffix=b"],
         'multiInstallSuffix="a" and env.multiInstallSuffix="b" are both set and differ'),
        (["--set", "installationPrefix=usr"], "installationPrefix"),
        (["--set", "shims.qemu.enabled=false"], 'defaultShim.amd64="qemu" is not an enabled shim'),
        (["--set", "shims.bogus.enabled=true"], "bogus"),
        (["--set", "k8sDistribution=openshift"], "k8sDistribution"),
    ],
)
def test_bad_values_fail_before_anything_is_rendered(any_helm: Helm, args: list[str], message: str) -> None:
    result = any_helm.template(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_alias_is_accepted(helm: Helm) -> None:
    objects = render(helm, "--set", "env.multiInstallSuffix=legacy")
    assert "kata-deploy-legacy" in {o["metadata"]["name"] for o in objects}
