"""Scenario e: bad input against the live cluster fails clearly and changes nothing."""

from __future__ import annotations

import pytest

from hooks import naming
from tests.e2e.checks import assert_installed, diff
from tests.e2e.kata import NAMESPACE, Driver

pytestmark = pytest.mark.e2e


def cluster_state(driver: Driver, release: str, suffix: str) -> tuple[list[str], list[str], dict[str, dict[str, str]]]:
    tag = naming.Install(suffix).tag if suffix else "default"
    return (driver.objects_labelled(f"app.kubernetes.io/instance={release}"),
            driver.objects_labelled(f"{naming.SUFFIX_LABEL}={tag}"), driver.node_labels())


@pytest.mark.parametrize(("suffix", "message"), [
    ("1.12", "'1.12' does not match pattern"),
    ("Dev_Build", "'Dev_Build' does not match pattern"),
    ("a" * 40, "a" * 40),
    ("default", "invalid multiInstallSuffix 'default': 'default' is reserved"),
    ("snp", "invalid multiInstallSuffix 'snp': handler 'kata-qemu-nvidia-gpu-snp' would equal"),
])
@pytest.mark.parametrize("major", [3, 4], ids=["helm3", "helm4"])
def test_invalid_suffix_is_refused_before_anything_exists(driver: Driver, baseline: dict[str, dict[str, str]],
                                                         releases: list[str], suffix: str, message: str,
                                                         major: int) -> None:
    releases.append("kata-bad")
    result = driver.install("kata-bad", suffix, major=major, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "kata-bad" not in driver.helm(3, "list", "-n", NAMESPACE, "-a", "-q").stdout.split()
    assert driver.objects_labelled("app.kubernetes.io/instance=kata-bad") == []
    assert diff(baseline, driver.fingerprints()) == {}


def test_suffix_in_use_and_suffix_change_are_refused(driver: Driver, baseline: dict[str, dict[str, str]],
                                                    releases: list[str]) -> None:
    releases += ["kata-owner", "kata-thief"]
    driver.install("kata-owner", "cicd")
    driver.wait_installed("cicd")
    files, owner_state = driver.fingerprints(), cluster_state(driver, "kata-owner", "cicd")

    # A second release asks for the same suffix: refused before anything of it is created,
    # by Helm's ownership check or by preflight, whichever sees the conflict first.
    result = driver.install("kata-thief", "cicd", check=False)
    assert result.returncode != 0
    preflight_log = driver.kubectl("-n", NAMESPACE, "logs", "job/kata-deploy-cicd-preflight", check=False).stdout
    assert ('current value is "kata-owner"' in result.stderr
            or "already exists and belongs to release 'kata-owner'" in preflight_log), (result.stderr, preflight_log)
    left = driver.objects_labelled("app.kubernetes.io/instance=kata-thief")
    assert set(left) <= {"job.batch/kata-deploy-cicd-preflight"}, "only a failed preflight Job (kept for its log)"
    assert cluster_state(driver, "kata-owner", "cicd")[0] == owner_state[0]
    assert driver.fingerprints() == files
    # Removing the refused release's record never touches the owner's install.
    if "kata-thief" in driver.helm(3, "list", "-n", NAMESPACE, "-a", "-q").stdout.split():
        driver.uninstall("kata-thief")
    assert cluster_state(driver, "kata-owner", "cicd") == owner_state
    assert driver.fingerprints() == files
    assert_installed(driver, "cicd")

    # The owner upgrades with another suffix: refused while rendering, before any revision
    # is recorded, so the release keeps running (and uninstalls) as it was.
    result = driver.upgrade("kata-owner", "v3", check=False)
    assert result.returncode != 0
    assert "multiInstallSuffix cannot change on upgrade: release 'kata-owner' was installed with 'cicd'" in (
        result.stderr), result.stderr
    history = driver.helm(3, "history", "kata-owner", "-n", NAMESPACE, "-o", "json").stdout
    assert '"status":"deployed"' in history.replace(" ", "") and "failed" not in history, history
    assert cluster_state(driver, "kata-owner", "cicd") == owner_state
    assert driver.fingerprints() == files

    driver.uninstall("kata-owner")
    assert diff(baseline, driver.fingerprints()) == {}
