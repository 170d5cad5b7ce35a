"""The one place that talks to the Kubernetes API (official client), returning plain dicts.

Everything else works on those dicts, so its decisions are testable without a
cluster; this adapter is exercised against the real API server by the e2e suite.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

Obj = dict[str, Any]
REQUEST_TIMEOUT = 30


def load_client() -> client.ApiClient:
    """In-cluster credentials in a pod, else the local kubeconfig (KUBECONFIG)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


class ApiCluster:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._core = client.CoreV1Api(api)
        self._apps = client.AppsV1Api(api)
        self._node = client.NodeV1Api(api)

    def _plain(self, obj: Any) -> Any:
        return self._api.sanitize_for_serialization(obj)

    def list_runtime_classes(self) -> list[Obj]:
        return list(self._plain(self._node.list_runtime_class(_request_timeout=REQUEST_TIMEOUT))["items"])

    def list_daemonsets(self) -> list[Obj]:
        result = self._apps.list_daemon_set_for_all_namespaces(_request_timeout=REQUEST_TIMEOUT)
        return list(self._plain(result)["items"])

    def list_nodes(self, selector: str) -> list[Obj]:
        result = self._core.list_node(label_selector=selector, _request_timeout=REQUEST_TIMEOUT)
        return list(self._plain(result)["items"])

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        result = self._core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT)
        return list(self._plain(result)["items"])

    def read_configmap(self, namespace: str, name: str) -> Obj | None:
        try:
            return dict(self._plain(self._core.read_namespaced_config_map(name, namespace,
                                                                         _request_timeout=REQUEST_TIMEOUT)))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def write_configmap(self, namespace: str, name: str, labels: dict[str, str], data: dict[str, str]) -> None:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels), data=data
        )
        try:
            self._core.create_namespaced_config_map(namespace, body, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as err:
            if err.status != 409:
                raise
            self._core.replace_namespaced_config_map(name, namespace, body, _request_timeout=REQUEST_TIMEOUT)

    def delete_configmap(self, namespace: str, name: str) -> None:
        try:
            self._core.delete_namespaced_config_map(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as err:
            if err.status != 404:
                raise

    def read_daemonset(self, namespace: str, name: str) -> Obj | None:
        try:
            return dict(self._plain(self._apps.read_namespaced_daemon_set(name, namespace,
                                                                         _request_timeout=REQUEST_TIMEOUT)))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def patch_daemonset(self, namespace: str, name: str, patch: Obj) -> None:
        self._apps.patch_namespaced_daemon_set(name, namespace, patch, _request_timeout=REQUEST_TIMEOUT)
