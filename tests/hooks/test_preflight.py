"""Preflight decisions over API objects (the e2e suite runs it against the real API server)."""

from __future__ import annotations

from typing import Any

import pytest

from hooks import naming, preflight

Obj = dict[str, Any]


def request(suffix: str = "cicd", upgrade: bool = False, crio: bool = False) -> preflight.Request:
    return preflight.Request("kata-cicd", "kata-system", naming.Install.validated(suffix, ["qemu", "fc"]), "k8s",
                             crio, {}, "kata-deploy-state-kata-cicd", upgrade)


def owned(obj: Obj, release: str, namespace: str = "kata-system") -> Obj:
    obj["metadata"]["annotations"] = {preflight.RELEASE_NAME_ANNOTATION: release,
                                      preflight.RELEASE_NAMESPACE_ANNOTATION: namespace}
    return obj


def runtime_class(name: str, handler: str | None = None) -> Obj:
    return {"metadata": {"name": name}, "handler": handler or name}


def daemonset(release: str, tag: str, namespace: str = "kata-system") -> Obj:
    return {"metadata": {"name": f"kata-deploy-{tag}", "namespace": namespace,
                         "labels": {preflight.INSTANCE_LABEL: release, naming.SUFFIX_LABEL: tag}}}


def node(name: str, runtime: str) -> Obj:
    return {"metadata": {"name": name}, "status": {"nodeInfo": {"containerRuntimeVersion": runtime}}}


def test_a_clean_cluster_passes() -> None:
    nodes = [node("a", "containerd://2.1.4"), node("b", "containerd://2.0.0")]
    assert preflight.decide(request(), [runtime_class("kata-qemu")], [], nodes, None) == []


def test_own_objects_on_upgrade_pass() -> None:
    classes = [owned(runtime_class("kata-qemu-cicd"), "kata-cicd")]
    state = {"data": {preflight.STATE_KEY: "cicd"}}
    assert preflight.decide(request(upgrade=True), classes, [daemonset("kata-cicd", "cicd")], [], state) == []


def test_runtime_class_of_another_release_is_refused() -> None:
    classes = [owned(runtime_class("kata-fc-cicd"), "other")]
    [problem] = preflight.decide(request(), classes, [], [], None)
    assert "RuntimeClass 'kata-fc-cicd'" in problem and "release 'other'" in problem


def test_handler_taken_by_a_hand_made_runtime_class_is_refused() -> None:
    [problem] = preflight.decide(request(), [runtime_class("my-class", "kata-qemu-cicd")], [], [], None)
    assert "handler 'kata-qemu-cicd'" in problem and "no Helm release" in problem


def test_suffix_used_by_another_release_is_refused() -> None:
    [problem] = preflight.decide(request(), [], [daemonset("kata-old", "cicd", "other-ns")], [], None)
    assert "already used by release 'kata-old'" in problem


def test_changed_suffix_on_upgrade_is_refused_from_state_or_daemonset() -> None:
    state = {"data": {preflight.STATE_KEY: "cicd"}}
    [problem] = preflight.decide(request("v3", upgrade=True), [], [], [], state)
    assert "cannot change on upgrade" in problem and "'cicd'" in problem and "'v3'" in problem
    # No state ConfigMap (release made before it existed): the DaemonSet's label tells.
    problems = preflight.decide(request("v3", upgrade=True), [], [daemonset("kata-cicd", "cicd")], [], None)
    assert any("cannot change on upgrade" in p for p in problems)
    # An install (not upgrade) of the same release name overwrites stale state.
    assert preflight.decide(request("v3"), [], [], [], state) == []


@pytest.mark.parametrize(("runtime", "crio", "message"), [
    ("docker://24.0.7", False, "cannot take containerd drop-in files"),
    ("containerd://1.7.28", False, "needs containerd >= 2.0"),
    ("cri-o://1.30.0", False, "set crio.enabled=true"),
    ("containerd://2.1.4", True, "set crio.enabled=false"),
    ("???", False, "cannot identify"),
])
def test_runtimes_that_cannot_take_the_install(runtime: str, crio: bool, message: str) -> None:
    [problem] = preflight.decide(request(crio=crio), [], [], [node("n1", runtime)], None)
    assert "node 'n1'" in problem and message in problem


class RecordingCluster:
    """The API at the edge: canned reads, recorded writes."""

    def __init__(self, runtime_classes: list[Obj], nodes: list[Obj]) -> None:
        self.runtime_classes, self.nodes = runtime_classes, nodes
        self.written: list[tuple[str, dict[str, str]]] = []

    def list_runtime_classes(self) -> list[Obj]:
        return self.runtime_classes

    def list_daemonsets(self) -> list[Obj]:
        return []

    def list_nodes(self, selector: str) -> list[Obj]:
        return self.nodes

    def read_configmap(self, namespace: str, name: str) -> Obj | None:
        return None

    def write_configmap(self, namespace: str, name: str, labels: dict[str, str], data: dict[str, str]) -> None:
        self.written.append((name, data))


def test_run_writes_state_only_when_every_check_passes() -> None:
    lines: list[str] = []
    ok = RecordingCluster([], [node("a", "containerd://2.1.4")])
    assert preflight.run(request(), ok, lines.append) == 0
    assert ok.written == [("kata-deploy-state-kata-cicd", {preflight.STATE_KEY: "cicd"})]
    refused = RecordingCluster([owned(runtime_class("kata-qemu-cicd"), "other")], [])
    assert preflight.run(request(), refused, lines.append) == 1
    assert refused.written == []
    assert "Nothing of the release was created or changed." in lines


class RestartingCluster(RecordingCluster):
    """A node whose runtime reports `Unknown` for the first reads, as during a containerd restart."""

    def __init__(self, unknown_reads: int) -> None:
        super().__init__([], [])
        self.reads, self.unknown_reads = 0, unknown_reads

    def list_nodes(self, selector: str) -> list[Obj]:
        self.reads += 1
        return [node("a", "containerd://Unknown" if self.reads <= self.unknown_reads else "containerd://2.1.4")]


def settle_on_a_fake_clock(cluster: RestartingCluster, settle: float) -> tuple[list[Obj], float]:
    """settled_nodes with a clock that only its sleeps advance; returns the nodes and the time slept."""
    now = [0.0]
    nodes = preflight.settled_nodes(cluster, "", settle, lambda _: None, lambda: now[0],
                                    lambda s: now.__setitem__(0, now[0] + s))
    return nodes, now[0]


def test_a_restarting_runtime_is_waited_for_not_refused() -> None:
    cluster = RestartingCluster(unknown_reads=3)
    nodes, _ = settle_on_a_fake_clock(cluster, 60)
    assert cluster.reads == 4 and preflight.decide(request(), [], [], nodes, None) == []


def test_a_runtime_that_never_reports_is_refused_after_the_wait() -> None:
    nodes, slept = settle_on_a_fake_clock(RestartingCluster(unknown_reads=10_000), 20)
    [problem] = preflight.decide(request(), [], [], nodes, None)
    assert "containerd://Unknown" in problem and slept >= 20
