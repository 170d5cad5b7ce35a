"""Least privilege, asked of the real API server (`kubectl auth can-i`)."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import CHART, TOOLS
from tests.e2e.kata import Driver, sh

pytestmark = pytest.mark.e2e

RBAC_NAMESPACE = "kata-rbac-e2e"


def can(driver: Driver, account: str, verb: str, resource: str, namespace: str = RBAC_NAMESPACE) -> bool:
    result = driver.kubectl("auth", "can-i", verb, resource, "-n", namespace,
                            f"--as=system:serviceaccount:{namespace}:{account}", check=False)
    return result.stdout.strip() == "yes"


@pytest.fixture(scope="module")
def rbac_applied(driver: Driver):  # type: ignore[no-untyped-def]
    """Every ServiceAccount, Role and binding of the chart (hooks included), applied without Helm."""
    rendered = driver.helm(3, "template", "kata-rbac", str(CHART), "-n", RBAC_NAMESPACE,
                           "--set", "multiInstallSuffix=rbac").stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in {
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}]
    driver.kubectl("create", "namespace", RBAC_NAMESPACE, check=False)
    manifest = yaml.safe_dump_all(docs)
    driver.apply(manifest)
    yield
    sh([str(TOOLS / "kubectl"), "delete", "-f", "-", "--ignore-not-found"], stdin=manifest, env=driver.env)
    driver.kubectl("delete", "namespace", RBAC_NAMESPACE, "--wait=false")


@pytest.mark.parametrize(("account", "allowed", "denied"), [
    ("kata-deploy-rbac",
     [("patch", "nodes"), ("get", "nodes"), ("list", "nodes"), ("get", "daemonsets/kata-deploy-rbac")],
     [("delete", "nodes"), ("get", "secrets"), ("create", "pods"), ("get", "daemonsets/other"),
      ("patch", "daemonsets/kata-deploy-rbac"), ("list", "configmaps"), ("create", "runtimeclasses")]),
    ("kata-deploy-rbac-preflight",
     [("list", "runtimeclasses"), ("list", "nodes"), ("list", "daemonsets"), ("create", "configmaps"),
      ("update", "configmaps/kata-deploy-state-kata-rbac")],
     [("patch", "nodes"), ("delete", "runtimeclasses"), ("get", "secrets"), ("update", "configmaps/other"),
      ("patch", "daemonsets/kata-deploy-rbac")]),
    ("kata-deploy-rbac-cleanup",
     [("patch", "daemonsets/kata-deploy-rbac"), ("list", "pods"), ("list", "nodes"),
      ("delete", "configmaps/kata-deploy-state-kata-rbac")],
     [("patch", "nodes"), ("patch", "daemonsets/other"), ("delete", "daemonsets/kata-deploy-rbac"),
      ("get", "secrets"), ("delete", "pods"), ("delete", "configmaps/other")]),
])
def test_can_i(driver: Driver, rbac_applied: None, account: str, allowed: list[tuple[str, str]],
               denied: list[tuple[str, str]]) -> None:
    wrong = [f"cannot {v} {r}" for v, r in allowed if not can(driver, account, v, r)]
    wrong += [f"can {v} {r}" for v, r in denied if can(driver, account, v, r)]
    assert not wrong, f"{account}: {wrong}"
