"""Acceptance of the kind cluster itself (issue 5), before any chart is installed.

Expects the cluster of ``scripts/cluster-up.sh``; skips when ``.tools/kubeconfig``
is absent. Run with ``pytest -m e2e tests/e2e/test_cluster.py``.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.e2e

PROBE_DIR = "/var/lib/kata-deploy-e2e-probe"


def _ready(node) -> bool:  # type: ignore[no-untyped-def]
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def test_two_nodes_ready(core_v1, node_containers) -> None:  # type: ignore[no-untyped-def]
    nodes = core_v1.list_node().items
    assert len(nodes) == 2, [n.metadata.name for n in nodes]
    assert sorted(n.metadata.name for n in nodes) == node_containers
    not_ready = [n.metadata.name for n in nodes if not _ready(n)]
    assert not not_ready, f"not Ready: {not_ready}"
    roles = sorted(
        "control-plane" if "node-role.kubernetes.io/control-plane" in n.metadata.labels else "worker" for n in nodes
    )
    assert roles == ["control-plane", "worker"]
    versions = {n.status.node_info.kubelet_version for n in nodes}
    assert len(versions) == 1 and next(iter(versions)).startswith("v1.34."), versions


def test_crictl_info_in_each_node(node_containers, node_exec) -> None:  # type: ignore[no-untyped-def]
    for node in node_containers:
        info = json.loads(node_exec(node, "crictl", "info"))
        conditions = {c["type"]: c["status"] for c in info["status"]["conditions"]}
        assert conditions.get("RuntimeReady") is True, (node, conditions)
        assert conditions.get("NetworkReady") is True, (node, conditions)


def test_containerd_reads_conf_d_drop_ins(node_containers, node_exec) -> None:  # type: ignore[no-untyped-def]
    """The installer writes one drop-in per install to /etc/containerd/conf.d/;
    the main configuration must import them. Checked with `containerd config
    dump`, which reads the files without restarting anything."""
    probe = "/etc/containerd/conf.d/zz-e2e-cluster-probe.toml"
    body = (
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.e2e-cluster-probe]\n'
        'runtime_type = "io.containerd.e2e-cluster-probe.v2"\n'
    )
    for node in node_containers:
        node_exec(node, "sh", "-c", f"cat > {probe} <<'EOF'\n{body}EOF")
        try:
            dump = node_exec(node, "containerd", "config", "dump")
        finally:
            node_exec(node, "rm", "-f", probe)
        assert "/etc/containerd/conf.d/*.toml" in dump, node
        assert "io.containerd.e2e-cluster-probe.v2" in dump, node


def _shell_image(core_v1, installer_image: str | None) -> str:  # type: ignore[no-untyped-def]
    """An image already on every node that has /bin/sh: the installer image when
    cluster-up.sh loaded one, else the image kube-proxy runs (preloaded)."""
    if installer_image:
        return installer_image
    pods = core_v1.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-proxy").items
    assert pods, "no kube-proxy pod to borrow an image from"
    return str(pods[0].spec.containers[0].image)


def _privileged_probe_pod(name: str, node: str, image: str):  # type: ignore[no-untyped-def]
    from kubernetes import client

    script = f"echo {node} > /probe/written-by-pod && grep -q CapEff /proc/self/status && sleep 600"
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "cluster-probe"}),
        spec=client.V1PodSpec(
            node_name=node,
            restart_policy="Never",
            termination_grace_period_seconds=0,
            tolerations=[client.V1Toleration(operator="Exists")],
            containers=[
                client.V1Container(
                    name="probe",
                    image=image,
                    # Never: the image must already be on the node.
                    image_pull_policy="Never",
                    command=["/bin/sh", "-c", script],
                    security_context=client.V1SecurityContext(privileged=True),
                    volume_mounts=[client.V1VolumeMount(name="host", mount_path="/probe")],
                )
            ],
            volumes=[
                client.V1Volume(
                    name="host",
                    host_path=client.V1HostPathVolumeSource(path=PROBE_DIR, type="DirectoryOrCreate"),
                )
            ],
        ),
    )


def test_privileged_hostpath_pod_on_each_node(  # type: ignore[no-untyped-def]
    core_v1, namespace, node_names, node_exec, installer_image
) -> None:
    image = _shell_image(core_v1, installer_image)
    pods = {}
    for i, node in enumerate(node_names):
        pod = _privileged_probe_pod(f"probe-{i}", node, image)
        core_v1.create_namespaced_pod(namespace, pod)
        pods[pod.metadata.name] = node

    deadline = time.monotonic() + 120
    phases: dict[str, str] = {}
    while time.monotonic() < deadline:
        phases = {name: core_v1.read_namespaced_pod(name, namespace).status.phase for name in pods}
        if all(p == "Running" for p in phases.values()) or any(p in ("Failed", "Succeeded") for p in phases.values()):
            break
        time.sleep(2)
    assert all(p == "Running" for p in phases.values()), (phases, _events(core_v1, namespace))

    # The pod wrote through its hostPath: the file is on the node it ran on.
    for node in pods.values():
        deadline = time.monotonic() + 30
        content = ""
        while time.monotonic() < deadline:
            content = node_exec(node, "cat", f"{PROBE_DIR}/written-by-pod", check=False).strip()
            if content:
                break
            time.sleep(1)
        assert content == node
        node_exec(node, "rm", "-rf", PROBE_DIR)


def _events(core_v1, namespace: str) -> list[str]:  # type: ignore[no-untyped-def]
    events = core_v1.list_namespaced_event(namespace).items
    return [f"{e.involved_object.name}: {e.reason}: {e.message}" for e in events]


def test_pod_network_spans_nodes(core_v1, namespace, node_names, installer_image) -> None:  # type: ignore[no-untyped-def]
    """A pod on each node resolves a Service name: DNS answers from CoreDNS pods
    on whichever node they run, through the pod network and kube-proxy."""
    from kubernetes import client

    image = _shell_image(core_v1, installer_image)
    names = []
    for i, node in enumerate(node_names):
        name = f"dns-{i}"
        names.append(name)
        core_v1.create_namespaced_pod(
            namespace,
            client.V1Pod(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1PodSpec(
                    node_name=node,
                    restart_policy="Never",
                    tolerations=[client.V1Toleration(operator="Exists")],
                    containers=[
                        client.V1Container(
                            name="dns",
                            image=image,
                            image_pull_policy="Never",
                            command=["/bin/sh", "-c", "getent hosts kubernetes.default.svc.cluster.local"],
                        )
                    ],
                ),
            ),
        )
    deadline = time.monotonic() + 90
    phases: dict[str, str] = {}
    while time.monotonic() < deadline:
        phases = {n: core_v1.read_namespaced_pod(n, namespace).status.phase for n in names}
        if all(p in ("Succeeded", "Failed") for p in phases.values()):
            break
        time.sleep(2)
    logs = {n: core_v1.read_namespaced_pod_log(n, namespace) for n in names if phases.get(n) != "Pending"}
    assert all(p == "Succeeded" for p in phases.values()), (phases, logs, _events(core_v1, namespace))
    assert all("10.96.0.1" in out for out in logs.values()), logs


def test_installer_image_loaded_on_each_node(node_containers, node_images, installer_image) -> None:  # type: ignore[no-untyped-def]
    if not installer_image:
        pytest.skip("cluster-up.sh loaded no installer image (images/installer/build.sh absent or skipped)")
    wanted = installer_image if "/" in installer_image.split(":")[0] else f"docker.io/library/{installer_image}"
    for node in node_containers:
        assert wanted in node_images(node), (node, node_images(node))


def test_nothing_pulled_from_a_registry(core_v1, node_containers, node_exec, node_images) -> None:  # type: ignore[no-untyped-def]
    # No kubelet ever started a pull...
    pulling = [
        f"{e.metadata.namespace}/{e.involved_object.name}: {e.message}"
        for e in core_v1.list_event_for_all_namespaces().items
        if e.reason in ("Pulling", "Pulled") and "already present" not in (e.message or "")
    ]
    assert not pulling, pulling
    for node in node_containers:
        # ...and containerd's CRI never received a pull request.
        journal = node_exec(node, "journalctl", "-u", "containerd", "--no-pager", "-o", "cat")
        pulls = [line for line in journal.splitlines() if "PullImage" in line]
        assert not pulls, (node, pulls[:5])
        # On the project's node image, every preloaded image is still there
        # (nothing was replaced by a pulled copy or garbage-collected).
        preloaded = node_exec(node, "cat", "/kind/preloaded-images", check=False).split()
        missing = sorted(set(preloaded) - set(node_images(node)))
        assert not missing, (node, missing)
