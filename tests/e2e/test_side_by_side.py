"""Scenario c: two releases side by side; removing one leaves the other exactly as it was."""

from __future__ import annotations

import time

import pytest

from hooks import naming
from tests.e2e.checks import assert_installed, assert_release_gone, diff
from tests.e2e.kata import Driver, record_timing

pytestmark = pytest.mark.e2e

CLEANUP_JOB = "kata-deploy-{}-cleanup"


def only(fingerprints: dict[str, dict[str, str]], suffix: str) -> dict[str, dict[str, str]]:
    """The files that belong to one install (its dir and its drop-in)."""
    install = naming.Install(suffix)
    return {node: {p: v for p, v in fp.items()
                   if p.startswith(install.install_dir + "/") or p == install.install_dir
                   or p.endswith("/" + install.containerd_dropin)}
            for node, fp in fingerprints.items()}


def uninstall_once(driver: Driver, release: str, suffix: str) -> float:
    before = driver.event_count(CLEANUP_JOB.format(suffix), "SuccessfulCreate")
    started = time.monotonic()
    driver.uninstall(release)
    seconds = time.monotonic() - started
    created = driver.event_count(CLEANUP_JOB.format(suffix), "SuccessfulCreate") - before
    assert created == 1, f"{created} cleanup pods for one uninstall of {release}"
    assert driver.failed_pods() == []
    return seconds


def test_two_releases_side_by_side(driver: Driver, baseline: dict[str, dict[str, str]],
                                   releases: list[str]) -> None:
    releases += ["kata-cicd", "kata-v2"]
    driver.install("kata-cicd", "cicd")
    driver.install("kata-v2", "v2", "--set", "debug=true")
    driver.wait_installed("cicd")
    driver.wait_installed("v2")
    assert_installed(driver, "cicd")
    assert_installed(driver, "v2", debug=True)

    v2_files, v2_labels = only(driver.fingerprints(), "v2"), driver.node_labels()
    v2_classes = driver.kubectl_json("get", "runtimeclass", "-l", f"{naming.SUFFIX_LABEL}=v2")["items"]
    record_timing(f"c  uninstall cicd beside v2              {uninstall_once(driver, 'kata-cicd', 'cicd'):6.1f}s")
    assert_release_gone(driver, "kata-cicd", "cicd")
    assert only(driver.fingerprints(), "v2") == v2_files
    assert driver.kubectl_json("get", "runtimeclass", "-l", f"{naming.SUFFIX_LABEL}=v2")["items"] == v2_classes
    for node, labels in driver.node_labels().items():
        expected = {k: v for k, v in v2_labels[node].items() if k != naming.NODE_MARK_PREFIX + "cicd"}
        assert labels == expected
    assert_installed(driver, "v2", debug=True)

    driver.install("kata-cicd", "cicd")
    driver.wait_installed("cicd")
    assert_installed(driver, "cicd")
    assert only(driver.fingerprints(), "v2") == v2_files

    record_timing(f"c  uninstall v2 beside cicd              {uninstall_once(driver, 'kata-v2', 'v2'):6.1f}s")
    assert_installed(driver, "cicd")
    record_timing(f"c  uninstall the last one                {uninstall_once(driver, 'kata-cicd', 'cicd'):6.1f}s")
    assert_release_gone(driver, "kata-cicd", "cicd")
    assert_release_gone(driver, "kata-v2", "v2")
    assert diff(baseline, driver.fingerprints()) == {}
    assert not any(driver.node_labels().values()), driver.node_labels()
