"""Scenario b: rounds of upgrade with changed values, rollout restart, installer killed mid-install.

After each step: nothing doubled on any node, one qemu wrapper, the container
runtime restarted exactly when its configuration changed, and every node's
fingerprint equal to that of a fresh install with the same values.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.e2e.checks import assert_installed, assert_nothing_doubled, diff
from tests.e2e.conftest import ROUNDS
from tests.e2e.kata import NAMESPACE, Driver, record_timing, sh, wait_for

pytestmark = pytest.mark.e2e

BASE_SHIMS = ("clh", "cloud-hypervisor", "dragonball", "fc", "qemu", "qemu-runtime-rs")
# (name, helm values, enabled shims, debug): each round moves to the next one.
CONFIGS = [
    ("base", [], BASE_SHIMS, False),
    ("debug on", ["--set", "debug=true"], BASE_SHIMS, True),
    ("shim added", ["--set", "shims.qemu-coco-dev.enabled=true"], (*BASE_SHIMS, "qemu-coco-dev"), False),
    ("shim removed, override changed", ["--set", "shims.clh.enabled=false",
                                        "--set", "shims.qemu.hypervisor.default_memory=4096"],
     tuple(s for s in BASE_SHIMS if s != "clh"), False),
]
SUFFIX, RELEASE = "cicd", "kata-rounds"


def containerd_config(fingerprints: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {node: {p: v for p, v in fp.items() if p.startswith("/etc/containerd")} for node, fp in fingerprints.items()}


def installer_pids(driver: Driver, node: str) -> set[str]:
    return set(driver.node_exec(node, "pgrep -f 'kata-deploy run'; true").split())


def rollout_restart(driver: Driver) -> None:
    driver.kubectl("-n", NAMESPACE, "rollout", "restart", f"daemonset/kata-deploy-{SUFFIX}")
    driver.kubectl("-n", NAMESPACE, "rollout", "status", f"daemonset/kata-deploy-{SUFFIX}", "--timeout=180s",
                   timeout=200)
    driver.wait_installed(SUFFIX)


def kill_mid_install(driver: Driver, rng: random.Random) -> list[str]:
    """Restart the installers, SIGKILL each new one shortly after it starts; return what each had logged."""
    old = {node: installer_pids(driver, node) for node in driver.nodes}
    driver.kubectl("-n", NAMESPACE, "rollout", "restart", f"daemonset/kata-deploy-{SUFFIX}")
    reports = []
    for node in driver.nodes:
        new = wait_for(f"a new installer process on {node}",
                       lambda node=node: installer_pids(driver, node) - old[node], 120, poll=0.05)
        time.sleep(rng.uniform(0.2, 1.5))
        sh(["docker", "exec", node, "kill", "-9", *new], check=False)
        reports.append(node)
    driver.kubectl("-n", NAMESPACE, "rollout", "status", f"daemonset/kata-deploy-{SUFFIX}", "--timeout=180s",
                   timeout=200)
    driver.wait_installed(SUFFIX)
    return reports


def test_upgrade_restart_and_kill_rounds(driver: Driver, baseline: dict[str, dict[str, str]],
                                         releases: list[str]) -> None:
    releases.append(RELEASE)
    # The reference: each configuration's fingerprint after a fresh install.
    reference = {}
    for name, values, _, _ in CONFIGS:
        driver.install(RELEASE, SUFFIX, *values)
        driver.wait_installed(SUFFIX)
        reference[name] = driver.fingerprints()
        driver.uninstall(RELEASE)
        assert diff(baseline, driver.fingerprints()) == {}, f"uninstall of fresh {name!r} left changes"

    rng = random.Random(11187)
    driver.install(RELEASE, SUFFIX)
    driver.wait_installed(SUFFIX)
    current = CONFIGS[0]
    for round_number in range(1, ROUNDS + 1):
        target = CONFIGS[round_number % len(CONFIGS)]
        name, values, shims, debug = target
        before, invocations = driver.fingerprints(), driver.invocations()
        started = time.monotonic()
        driver.upgrade(RELEASE, SUFFIX, *values)
        driver.wait_installed(SUFFIX)
        record_timing(f"b  round {round_number:2d} upgrade-to-ready ({name})".ljust(40) +
                      f"{time.monotonic() - started:6.1f}s")
        after = driver.fingerprints()
        config_changed = containerd_config(before) != containerd_config(after)
        restarted = driver.invocations() != invocations
        assert restarted == config_changed, (
            f"round {round_number} {current[0]!r} -> {name!r}: containerd config changed={config_changed}, "
            f"restarted={restarted}")
        assert diff(reference[name], after) == {}, f"round {round_number}: upgrade to {name!r} != fresh install"
        assert_installed(driver, SUFFIX, shims, debug)
        assert_nothing_doubled(driver, SUFFIX)

        invocations = driver.invocations()
        rollout_restart(driver)
        assert driver.invocations() == invocations, "a rollout restart restarted containerd with nothing changed"
        assert diff(reference[name], driver.fingerprints()) == {}, f"round {round_number}: after rollout restart"

        kill_mid_install(driver, rng)
        assert diff(reference[name], driver.fingerprints()) == {}, f"round {round_number}: after a killed install"
        assert_installed(driver, SUFFIX, shims, debug)
        assert_nothing_doubled(driver, SUFFIX)
        current = target

    driver.uninstall(RELEASE)
    assert diff(baseline, driver.fingerprints()) == {}
