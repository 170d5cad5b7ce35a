"""Scenario a: one suffixed install through the post-renderer, checked on every node."""

from __future__ import annotations

import time

import pytest

from hooks import naming
from tests.e2e.checks import assert_installed, assert_nothing_doubled, assert_release_gone, diff
from tests.e2e.kata import NAMESPACE, Driver, record_timing, wait_for

pytestmark = pytest.mark.e2e

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: kata-probe
  namespace: {namespace}
spec:
  runtimeClassName: kata-cicd
  restartPolicy: Never
  containers:
    - name: probe
      image: {image}
      imagePullPolicy: Never
      command: ["sleep", "60"]
"""


def test_install_cicd_and_use_its_runtime_class(driver: Driver, baseline: dict[str, dict[str, str]],
                                               releases: list[str], installer_image: str) -> None:
    releases.append("kata-cicd")
    started = time.monotonic()
    result = driver.install("kata-cicd", "cicd")
    assert "runtimeClassName: kata-cicd" in result.stdout  # NOTES tell the user what to use
    driver.wait_installed("cicd")
    record_timing(f"a  install-to-ready                      {time.monotonic() - started:6.1f}s")
    assert_installed(driver, "cicd")
    assert_nothing_doubled(driver, "cicd")

    # A pod asking for kata-cicd lands on a labelled node and containerd resolves the handler.
    driver.apply(POD.format(namespace=NAMESPACE, image=installer_image))
    try:
        pod = wait_for("the kata-cicd pod to be scheduled", lambda: driver.kubectl_json(
            "-n", NAMESPACE, "get", "pod", "kata-probe").get("spec", {}).get("nodeName"), 60)
        labels = driver.node_labels()[pod]
        assert labels[naming.NODE_MARK_PREFIX + "cicd"] == "true"

        def sandbox_outcome() -> str:
            probe = driver.kubectl_json("-n", NAMESPACE, "get", "pod", "kata-probe")
            if probe["status"].get("phase") == "Running":
                return "running"
            events = driver.kubectl_json("-n", NAMESPACE, "get", "events", "--field-selector",
                                         f"involvedObject.uid={probe['metadata']['uid']}")["items"]
            messages = [e["message"] for e in events if e["reason"] == "FailedCreatePodSandBox"]
            return messages[0] if messages else ""

        outcome = wait_for("containerd to try the kata-cicd handler", sandbox_outcome, 90)
        # The test payload's shim cannot boot a VM (it says so, with the path it was run
        # from); what matters is that containerd ran this install's shim, not another runtime.
        assert outcome == "running" or "at /opt/kata-cicd/bin/containerd-shim-kata-v2" in outcome, outcome
    finally:
        driver.kubectl("-n", NAMESPACE, "delete", "pod", "kata-probe", "--ignore-not-found", "--wait=true")

    started = time.monotonic()
    driver.uninstall("kata-cicd")
    record_timing(f"a  uninstall-to-clean                    {time.monotonic() - started:6.1f}s")
    assert_release_gone(driver, "kata-cicd", "cicd")
    assert diff(baseline, driver.fingerprints()) == {}


@pytest.mark.parametrize("major", [3, 4], ids=["helm3", "helm4"])
def test_server_dry_run_through_the_renderer(driver: Driver, major: int) -> None:
    """`helm install --dry-run=server`: the API server validates what the renderer wrote; nothing is created."""
    result = driver.helm(major, "install", "kata-dry", *driver.release_args("dry", []), "--create-namespace",
                         "--dry-run=server")
    assert "kata-deploy.katacontainers.io/config-digest" in result.stdout
    assert "katacontainers.io/multi-install-suffix: dry" in result.stdout
    assert "kata-dry" not in driver.helm(3, "list", "-n", NAMESPACE, "-a", "-q").stdout.split()
    assert driver.objects_labelled("app.kubernetes.io/instance=kata-dry") == []
