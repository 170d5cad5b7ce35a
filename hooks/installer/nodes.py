"""Node labels and the DaemonSet check, through an injected Kubernetes API.

The shared label `katacontainers.io/kata-runtime` says "some Kata install works here";
each install also has its own mark `kata-deploy.katacontainers.io/<S|default>`.
RuntimeClasses select both, so an install's pods land only where that install is ready.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from hooks import naming
from hooks.installer.errors import InstallerError

PRESENT, DELETING, GONE = "present", "deleting", "gone"


class KubeAPI(Protocol):
    def node_labels(self, node: str) -> dict[str, str]: ...

    def patch_node_labels(self, node: str, labels: dict[str, str | None]) -> None:
        """Set labels; None removes one."""
        ...

    def runtime_version(self, node: str) -> str:
        """The node's status.nodeInfo.containerRuntimeVersion (`containerd://2.1.4`)."""
        ...

    def daemonset_state(self, namespace: str, name: str) -> str:
        """PRESENT, DELETING (deletionTimestamp set) or GONE."""
        ...


def claim(api: KubeAPI, node: str, install: naming.Install) -> None:
    """While installing: the shared label and this install's mark say `false`."""
    api.patch_node_labels(node, {naming.SHARED_NODE_LABEL: "false", install.node_mark: "false"})


def mark_ready(api: KubeAPI, node: str, install: naming.Install) -> None:
    api.patch_node_labels(node, {naming.SHARED_NODE_LABEL: "true", install.node_mark: "true"})


def release(api: KubeAPI, node: str, install: naming.Install) -> str:
    """Remove this install's mark; keep, demote or remove the shared label. Says which."""
    labels = api.node_labels(node)
    others = {k: v for k, v in labels.items() if k.startswith(naming.NODE_MARK_PREFIX) and k != install.node_mark}
    change: dict[str, str | None] = {}
    if install.node_mark in labels:
        change[install.node_mark] = None
    if any(v == "true" for v in others.values()):
        verdict = f"kept {naming.SHARED_NODE_LABEL} (other installs ready: {', '.join(sorted(others))})"
    elif others:
        change[naming.SHARED_NODE_LABEL] = "false"
        verdict = f"set {naming.SHARED_NODE_LABEL}=false (other installs not ready: {', '.join(sorted(others))})"
    else:
        if naming.SHARED_NODE_LABEL in labels:
            change[naming.SHARED_NODE_LABEL] = None
        verdict = f"removed {naming.SHARED_NODE_LABEL} (no other install on this node)"
    if change:
        api.patch_node_labels(node, change)
    return verdict


class KubernetesAPI:
    """KubeAPI on the official client: in-cluster credentials in a pod, else $KUBECONFIG."""

    def __init__(self) -> None:
        from kubernetes import client, config  # heavy import: only when the API is used

        try:
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            else:
                config.load_kube_config()  # type: ignore[no-untyped-call]
        except Exception as err:
            raise InstallerError(
                f"no Kubernetes credentials ({err})",
                "run in the DaemonSet, set KUBECONFIG, or pass --no-k8s to skip node labels",
            ) from err
        self._core = client.CoreV1Api()
        self._apps = client.AppsV1Api()
        self._api_error: type[Exception] = client.ApiException

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._api_error as err:
            status = getattr(err, "status", "?")
            raise InstallerError(
                f"Kubernetes API: {what} failed ({status} {getattr(err, 'reason', '')})",
                "check the installer's RBAC (nodes get/list/patch, daemonsets get) and the API server",
            ) from err

    def node_labels(self, node: str) -> dict[str, str]:
        found = self._call(f"get node {node}", self._core.read_node, node)
        return dict(found.metadata.labels or {})

    def patch_node_labels(self, node: str, labels: dict[str, str | None]) -> None:
        self._call(f"label node {node}", self._core.patch_node, node, {"metadata": {"labels": labels}})

    def runtime_version(self, node: str) -> str:
        found = self._call(f"get node {node}", self._core.read_node, node)
        info = found.status.node_info if found.status else None
        return str(info.container_runtime_version) if info else ""

    def daemonset_state(self, namespace: str, name: str) -> str:
        try:
            found = self._apps.read_namespaced_daemon_set(name, namespace)
        except self._api_error as err:
            if getattr(err, "status", None) == 404:
                return GONE
            raise InstallerError(
                f"Kubernetes API: get daemonset {namespace}/{name} failed ({getattr(err, 'status', '?')})",
                "check the installer's RBAC (daemonsets get in its namespace)",
            ) from err
        return DELETING if found.metadata is not None and found.metadata.deletion_timestamp else PRESENT
