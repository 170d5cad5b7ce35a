"""Scenario d: full install, upgrade, uninstall cycles in a row, with Helm 3 and Helm 4 (plugin renderer)."""

from __future__ import annotations

import statistics
import time

import pytest

from tests.e2e.checks import assert_installed, assert_nothing_doubled, assert_release_gone, diff
from tests.e2e.conftest import CYCLES
from tests.e2e.kata import Driver, record_timing

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("major", [3, 4], ids=["helm3", "helm4"])
def test_install_upgrade_uninstall_cycles(driver: Driver, baseline: dict[str, dict[str, str]],
                                          releases: list[str], major: int) -> None:
    release, suffix = f"kata-cycle{major}", f"cycle{major}"
    releases.append(release)
    times: dict[str, list[float]] = {"install-to-ready": [], "upgrade-to-ready": [], "uninstall-to-clean": []}
    for cycle in range(1, CYCLES + 1):
        started = time.monotonic()
        driver.install(release, suffix, major=major)
        driver.wait_installed(suffix)
        times["install-to-ready"].append(time.monotonic() - started)
        assert_installed(driver, suffix)

        started = time.monotonic()
        driver.upgrade(release, suffix, "--set", "debug=true", major=major)
        driver.wait_installed(suffix)
        times["upgrade-to-ready"].append(time.monotonic() - started)
        assert_installed(driver, suffix, debug=True)
        assert_nothing_doubled(driver, suffix)

        started = time.monotonic()
        driver.uninstall(release, major=major)
        times["uninstall-to-clean"].append(time.monotonic() - started)
        assert_release_gone(driver, release, suffix)
        assert diff(baseline, driver.fingerprints()) == {}, f"helm{major} cycle {cycle} left the nodes changed"
        assert driver.failed_pods() == []
    for what, samples in times.items():
        record_timing(f"d  helm{major} {what} x{len(samples)}".ljust(40) +
                      f"median {statistics.median(samples):5.1f}s max {max(samples):5.1f}s")
