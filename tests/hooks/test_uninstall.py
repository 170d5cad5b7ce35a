"""The uninstall hook's decisions (the e2e suite runs it against the real cluster)."""

from __future__ import annotations

from typing import Any

from hooks import uninstall

Obj = dict[str, Any]
MARK = "kata-deploy.katacontainers.io/cicd"


def node(name: str, ready: bool = True, marked: bool = False) -> Obj:
    return {"metadata": {"name": name, "labels": {MARK: "true"} if marked else {}},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}]}}


def pod(name: str, node_name: str, mode: str = "cleanup", ready: bool = True, waiting: str | None = None,
        restarts: int = 0, terminating: bool = False) -> Obj:
    status: Obj = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"restartCount": restarts,
                                          "state": {"waiting": {"reason": waiting}} if waiting else {}}]}
    meta: Obj = {"name": name}
    if terminating:
        meta["deletionTimestamp"] = "2026-11-22T00:00:00Z"
    env = [{"name": uninstall.MODE_ENV, "value": mode}]
    return {"metadata": meta, "spec": {"nodeName": node_name, "containers": [{"name": "installer", "env": env}]},
            "status": status}


def test_clean_when_every_pod_finished_its_cleanup_and_no_mark_is_left() -> None:
    nodes = [node("cp"), node("w")]
    progress = uninstall.assess([], nodes, [pod("p1", "cp"), pod("p2", "w")])
    assert progress.done and progress.cleaned == ["cp", "w"]


def test_a_marked_node_or_an_install_mode_pod_is_pending() -> None:
    nodes = [node("cp"), node("w", marked=True)]
    progress = uninstall.assess([node("w", marked=True)], nodes,
                                [pod("p1", "cp", mode="install"), pod("p2", "w", ready=False)])
    assert set(progress.pending) == {"cp", "w"}
    assert "install mode" in progress.pending["cp"]
    assert "still carries this install's mark" in progress.pending["w"]


def test_report_names_notready_nodes_and_crash_loops() -> None:
    nodes = [node("w", ready=False, marked=True)]
    progress = uninstall.assess(nodes, nodes, [pod("p", "w", mode="install", ready=False, waiting="CrashLoopBackOff",
                                                   restarts=5, terminating=True)])
    reason = progress.pending["w"]
    assert "NotReady" in reason and "CrashLoopBackOff" in reason and "5 restarts" in reason and "terminating" in reason


def test_a_marked_node_without_installer_pod_is_reported() -> None:
    progress = uninstall.assess([node("gone", marked=True)], [node("gone", marked=True)], [])
    assert "no installer pod runs there" in progress.pending["gone"]


class FakeCluster:
    """The API at the edge: a DaemonSet whose pods finish their cleanup after the patch."""

    def __init__(self, daemonset: Obj | None, finish_after_polls: int, marked: list[Obj]) -> None:
        self.daemonset, self.finish_after, self.marked = daemonset, finish_after_polls, marked
        self.polls, self.patches, self.deleted = 0, [], []  # type: ignore[var-annotated]

    def read_daemonset(self, namespace: str, name: str) -> Obj | None:
        return self.daemonset

    def patch_daemonset(self, namespace: str, name: str, patch: Obj) -> None:
        self.patches.append(patch)

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        self.polls += 1
        done = self.polls > self.finish_after
        return [pod("p", "n1", mode="cleanup" if done else "install")]

    def list_nodes(self, selector: str) -> list[Obj]:
        if selector:
            return self.marked if self.polls <= self.finish_after else []
        return [node("n1")]

    def delete_configmap(self, namespace: str, name: str) -> None:
        self.deleted.append(name)


def daemonset(owner: str = "kata-cicd") -> Obj:
    return {"metadata": {"annotations": {uninstall.RELEASE_NAME_ANNOTATION: owner}},
            "spec": {"selector": {"matchLabels": {"app": "x"}}}}


def request(timeout: float = 100) -> uninstall.Request:
    return uninstall.Request("kata-cicd", "ns", "kata-deploy-cicd", MARK, "state", timeout, poll=1)


def fake_time() -> tuple[Any, Any]:
    now = [0.0]
    return (lambda: now[0]), (lambda seconds: now.__setitem__(0, now[0] + seconds))


def test_run_patches_waits_and_removes_state() -> None:
    cluster = FakeCluster(daemonset(), 3, [node("n1", marked=True)])
    clock, sleep = fake_time()
    lines: list[str] = []
    assert uninstall.run(request(), cluster, lines.append, clock, sleep) == 0
    assert cluster.patches == [uninstall.cleanup_patch()] and cluster.deleted == ["state"]
    assert "every node is clean (n1)" in lines[-1]


def test_run_reports_unclean_nodes_at_the_deadline() -> None:
    cluster = FakeCluster(daemonset(), 10_000, [node("n1", marked=True)])
    clock, sleep = fake_time()
    lines: list[str] = []
    assert uninstall.run(request(timeout=30), cluster, lines.append, clock, sleep) == 1
    assert any(line.startswith("  - n1: ") for line in lines) and cluster.deleted == []
    assert "run `helm uninstall` again" in lines[-1]


def test_run_never_touches_another_release_daemonset() -> None:
    cluster = FakeCluster(daemonset(owner="someone-else"), 0, [node("n1", marked=True)])
    lines: list[str] = []
    assert uninstall.run(request(), cluster, lines.append) == 0
    assert cluster.patches == [] and "belongs to release 'someone-else'" in lines[-1]


def test_run_without_daemonset_fails_only_if_nodes_keep_the_mark() -> None:
    assert uninstall.run(request(), FakeCluster(None, 0, []), lambda _: None) == 0
    lines: list[str] = []
    assert uninstall.run(request(), FakeCluster(None, 0, [node("n1", marked=True)]), lines.append) == 1
    assert "nodes n1 still carry" in lines[-1]
