"""Fixtures for the end-to-end suites that run against the kind cluster.

The cluster comes from ``scripts/cluster-up.sh`` (name ``kata-deploy-e2e``, or
``$KIND_CLUSTER_NAME``); its kubeconfig is ``.tools/kubeconfig``. Every fixture
that needs the cluster skips the test, with the reason, when that file is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def run(cmd: list[str], *, check: bool = True, timeout: float = 120) -> str:
    """Run a command and return its stdout; on failure show stdout and stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _node_exec(node: str, *cmd: str, check: bool = True) -> str:
    return run(["docker", "exec", node, *cmd], check=check)


REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECONFIG = REPO_ROOT / ".tools" / "kubeconfig"
INSTALLER_IMAGE_FILE = REPO_ROOT / ".tools" / "installer-image"


@pytest.fixture(scope="session")
def cluster_name() -> str:
    return os.environ.get("KIND_CLUSTER_NAME", "kata-deploy-e2e")


@pytest.fixture(scope="session")
def kubeconfig() -> Path:
    if not KUBECONFIG.is_file():
        pytest.skip(f"no kind cluster: {KUBECONFIG} is absent (run scripts/cluster-up.sh)")
    return KUBECONFIG


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path):  # type: ignore[no-untyped-def]
    kubernetes = pytest.importorskip("kubernetes")
    return kubernetes.config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="session")
def core_v1(api_client):  # type: ignore[no-untyped-def]
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def node_names(core_v1) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(n.metadata.name for n in core_v1.list_node().items)


@pytest.fixture(scope="session")
def node_containers(cluster_name: str, kubeconfig: Path) -> list[str]:
    """Names of the Docker containers that are this cluster's nodes."""
    out = run(["docker", "ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster_name}", "--format", "{{.Names}}"])
    return sorted(out.split())


@pytest.fixture(scope="session")
def installer_image() -> str | None:
    """The installer image cluster-up.sh loaded into the nodes, if any."""
    if INSTALLER_IMAGE_FILE.is_file():
        return INSTALLER_IMAGE_FILE.read_text().strip() or None
    return None


@pytest.fixture()
def namespace(core_v1) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A throwaway namespace, deleted after the test."""
    from kubernetes import client

    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core_v1.delete_namespace(name, propagation_policy="Background")


@pytest.fixture(scope="session")
def node_exec():  # type: ignore[no-untyped-def]
    """``node_exec(node, *cmd, check=True)``: run a command in a node container, return stdout."""
    return _node_exec


@pytest.fixture(scope="session")
def node_images():  # type: ignore[no-untyped-def]
    """``node_images(node)``: every image reference containerd's CRI knows on that node."""

    def images(node: str) -> list[str]:
        data = json.loads(_node_exec(node, "crictl", "images", "-o", "json"))
        return sorted(tag for image in data["images"] for tag in image.get("repoTags") or [])

    return images


# --- kata-deploy lifecycle fixtures (tests/e2e/kata.py) --------------------------------------

ROUNDS = int(os.environ.get("E2E_ROUNDS", "3"))
CYCLES = int(os.environ.get("E2E_CYCLES", "3"))


@pytest.fixture(scope="session")
def driver(kubeconfig: Path, node_containers: list[str], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.e2e.kata import Driver

    kata = Driver(kubeconfig, node_containers, tmp_path_factory.mktemp("helm4-home"))
    kata.install_plugin()
    return kata


@pytest.fixture(scope="session")
def baseline(driver):  # type: ignore[no-untyped-def]
    """The nodes before this session installed anything: files and kata labels."""
    from tests.e2e.kata import NAMESPACE

    leftover = driver.helm(3, "list", "-n", NAMESPACE, "-a", "-q").stdout.split()
    assert not leftover, f"releases left in {NAMESPACE} by an earlier run: {leftover}"
    assert not any(driver.node_labels().values()), driver.node_labels()
    return driver.fingerprints()


@pytest.fixture()
def releases(driver):  # type: ignore[no-untyped-def]
    """Names of releases a test installs; whatever is still installed at the end is uninstalled."""
    from tests.e2e.kata import NAMESPACE

    installed: list[str] = []
    yield installed
    present = set(driver.helm(3, "list", "-n", NAMESPACE, "-a", "-q").stdout.split())
    for name in installed:
        if name in present:
            driver.uninstall(name, check=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    kata = item.funcargs.get("driver") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and kata is not None:
        try:
            report.sections.append(("kata-deploy diagnostics", kata.diagnostics()))
        except Exception as err:  # diagnostics must never hide the failure itself
            report.sections.append(("kata-deploy diagnostics", f"could not collect: {err}"))
