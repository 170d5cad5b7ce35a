"""Assertions about an install, made on every node and against the API server."""

from __future__ import annotations

import tomllib
from typing import Any

from hooks import naming
from hooks import shims as shim_catalog
from tests.e2e.kata import NAMESPACE, Driver, wait_for


def dropin_runtimes(driver: Driver, node: str, install: naming.Install) -> dict[str, Any]:
    """The runtimes this install's own drop-in registers (parsed: a duplicate table fails to parse)."""
    paths = [p.split(":", 1)[1] for p in driver.find_nodes(install.containerd_dropin) if p.startswith(node + ":")]
    assert len(paths) == 1, f"{node}: expected one {install.containerd_dropin}, found {paths}"
    document = tomllib.loads(driver.node_exec(node, f"cat {paths[0]}"))
    plugins = document["plugins"]
    plugin = plugins.get("io.containerd.grpc.v1.cri") or plugins["io.containerd.cri.v1.runtime"]
    return dict(plugin["containerd"]["runtimes"])


def assert_installed(driver: Driver, suffix: str, shims: tuple[str, ...] = shim_catalog.DEFAULT_SHIMS,
                     debug: bool = False) -> None:
    install = naming.Install(suffix, tuple(sorted(shims)), debug=debug)
    expected_handlers = {rc.handler for rc in install.runtime_classes()}
    for node in driver.nodes:
        for shim in install.shims:
            binary = f"{install.install_dir}/{shim_catalog.CATALOG[shim].shim_binary}"
            driver.node_exec(node, f"test -x {binary}")
        runtimes = dropin_runtimes(driver, node, install)
        assert set(runtimes) == expected_handlers, (node, sorted(runtimes))
        for handler, entry in runtimes.items():
            assert entry["runtime_type"] == f"io.containerd.{handler}.v2"
            assert entry["options"]["ConfigPath"].startswith(install.install_dir + "/")
        missing = expected_handlers - driver.crictl_handlers(node)
        assert not missing, f"{node}: crictl info lacks {sorted(missing)} (containerd not restarted?)"
        wrappers = driver.node_exec(node, f"ls {install.install_dir}/bin | grep -c installation-prefix; true").strip()
        if any(shim_catalog.CATALOG[s].uses_qemu for s in install.shims):
            assert wrappers == "1", f"{node}: {wrappers} qemu wrappers"
    classes = driver.kubectl_json("get", "runtimeclass", "-l", f"{naming.SUFFIX_LABEL}={install.tag}")["items"]
    assert {c["metadata"]["name"]: c["handler"] for c in classes} == {
        rc.name: rc.handler for rc in install.runtime_classes()}
    for labels in driver.node_labels().values():
        assert labels.get(install.node_mark) == "true" and labels.get(naming.SHARED_NODE_LABEL) == "true", labels


def assert_nothing_doubled(driver: Driver, suffix: str) -> None:
    assert not driver.grep_nodes(f"-{suffix}-{suffix}"), driver.grep_nodes(f"-{suffix}-{suffix}")
    assert not driver.grep_nodes("installation-prefix-installation-prefix")
    assert not driver.find_nodes("*installation-prefix-installation-prefix*")


def assert_release_gone(driver: Driver, release: str, suffix: str) -> None:
    install = naming.Install(suffix)

    def leftovers() -> list[str]:
        return (driver.objects_labelled(f"{naming.SUFFIX_LABEL}={install.tag}")
                + driver.objects_labelled(f"app.kubernetes.io/instance={release}"))

    # The DaemonSet's pods and ControllerRevisions go by garbage collection, after helm returns.
    try:
        wait_for(f"nothing of {release} left in the cluster", lambda: not leftovers(), 60, poll=2)
    except AssertionError as err:
        raise AssertionError(f"{err}: {leftovers()}") from None
    state = driver.kubectl("-n", NAMESPACE, "get", "configmap", f"kata-deploy-state-{release}", "--ignore-not-found",
                           "-o", "name").stdout
    assert not state.strip(), state
    for labels in driver.node_labels().values():
        assert install.node_mark not in labels, labels


def diff(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Per node, the paths whose fingerprint entry differs (empty when identical)."""
    changes = {}
    for node in before:
        paths = sorted(p for p in set(before[node]) | set(after[node]) if before[node].get(p) != after[node].get(p))
        if paths:
            changes[node] = [f"{p}: {before[node].get(p)} -> {after[node].get(p)}" for p in paths[:20]]
    return changes
