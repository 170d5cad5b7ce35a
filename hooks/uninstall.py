"""`kata-deploy uninstall`: the pre-delete hook that cleans every node before Helm deletes the release.

It switches the release's installer DaemonSet to cleanup mode (a rollout, so even
a crash-looping installer pod is replaced by one that cleans), then waits until
every installer pod has finished its cleanup and no node carries this install's
mark. Past the deadline it names each node it could not clean and fails, which
leaves the release in `uninstalling`: `helm uninstall` again resumes the work.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

MODE_ENV = "KATA_DEPLOY_MODE"
CLEANUP_MODE = "cleanup"
INSTALLER_CONTAINER = "installer"

Obj = dict[str, Any]


def cleanup_patch() -> Obj:
    """Strategic-merge patch: every installer pod restarts in cleanup mode, all nodes at once."""
    return {
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
            "template": {"spec": {"containers": [
                {"name": INSTALLER_CONTAINER, "env": [{"name": MODE_ENV, "value": CLEANUP_MODE}]},
            ]}},
        }
    }


def _mode(pod: Obj) -> str:
    for container in pod.get("spec", {}).get("containers") or []:
        if container.get("name") == INSTALLER_CONTAINER:
            for env in container.get("env") or []:
                if env.get("name") == MODE_ENV:
                    return str(env.get("value", ""))
    return ""


def _ready(conditions: list[Obj] | None, kind: str = "Ready") -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions or [])


def describe_pod(pod: Obj) -> str:
    status = pod.get("status") or {}
    parts = [f"pod {pod['metadata']['name']} ({_mode(pod) or 'install'} mode) {status.get('phase', 'Unknown')}"]
    if pod["metadata"].get("deletionTimestamp"):
        parts.append("terminating")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            parts.append(f"waiting: {waiting.get('reason')}")
        if container.get("restartCount"):
            parts.append(f"{container['restartCount']} restarts")
    return ", ".join(parts)


@dataclass
class Progress:
    cleaned: list[str] = field(default_factory=list)
    # node name -> why it is not clean yet
    pending: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not self.pending


def assess(marked_nodes: list[Obj], all_nodes: list[Obj], pods: list[Obj]) -> Progress:
    """Which nodes are clean: their installer pod finished the cleanup and the node lost its mark."""
    progress = Progress()
    marked = {n["metadata"]["name"] for n in marked_nodes}
    node_ready = {n["metadata"]["name"]: _ready((n.get("status") or {}).get("conditions")) for n in all_nodes}
    pods_by_node: dict[str, list[Obj]] = {}
    for pod in pods:
        pods_by_node.setdefault(pod.get("spec", {}).get("nodeName") or "<unscheduled>", []).append(pod)
    for node in sorted(marked | set(pods_by_node)):
        node_pods = pods_by_node.get(node, [])
        finished = [
            p for p in node_pods
            if _mode(p) == CLEANUP_MODE
            and _ready((p.get("status") or {}).get("conditions"))
            and not p["metadata"].get("deletionTimestamp")
        ]
        others = [p for p in node_pods if p not in finished]
        if finished and not others and node not in marked:
            progress.cleaned.append(node)
            continue
        reasons = []
        if not node_ready.get(node, False):
            reasons.append("node NotReady (its kubelet is not reporting)" if node in node_ready else "node not found")
        if node in marked:
            reasons.append("still carries this install's mark")
        reasons += [describe_pod(p) for p in node_pods]
        if not node_pods:
            reasons.append("no installer pod runs there (excluded by nodeSelector or tolerations since the install?)")
        progress.pending[node] = "; ".join(reasons)
    return progress


class Cluster(Protocol):
    def read_daemonset(self, namespace: str, name: str) -> Obj | None: ...
    def patch_daemonset(self, namespace: str, name: str, patch: Obj) -> None: ...
    def list_pods(self, namespace: str, selector: str) -> list[Obj]: ...
    def list_nodes(self, selector: str) -> list[Obj]: ...
    def delete_configmap(self, namespace: str, name: str) -> None: ...


RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"


@dataclass(frozen=True)
class Request:
    release: str
    namespace: str
    daemonset: str
    node_mark: str
    state_configmap: str
    timeout: float
    poll: float = 2.0


def run(request: Request, cluster: Cluster, say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    started = clock()
    daemonset = cluster.read_daemonset(request.namespace, request.daemonset)
    owner = ((daemonset or {}).get("metadata", {}).get("annotations") or {}).get(RELEASE_NAME_ANNOTATION)
    if daemonset is not None and owner != request.release:
        # A release whose install was refused (its suffix belongs to another release) owns
        # no DaemonSet and no node: never touch the other release's.
        cluster.delete_configmap(request.namespace, request.state_configmap)
        say(f"nothing to clean: {request.namespace}/{request.daemonset} belongs to release {owner!r}, "
            f"not {request.release!r}")
        return 0
    if daemonset is None:
        leftover = [n["metadata"]["name"] for n in cluster.list_nodes(request.node_mark)]
        if leftover:
            say(f"uninstall failed: DaemonSet {request.namespace}/{request.daemonset} is gone (deleted by hand?) "
                f"but nodes {', '.join(leftover)} still carry {request.node_mark}; nothing can clean them from here. "
                "Clean those nodes with `kata-deploy cleanup` on each, then `helm uninstall --no-hooks`.")
            return 1
        cluster.delete_configmap(request.namespace, request.state_configmap)
        say("nothing to clean: the installer DaemonSet is gone and no node carries this install's mark")
        return 0
    cluster.patch_daemonset(request.namespace, request.daemonset, cleanup_patch())
    selector = ",".join(f"{k}={v}" for k, v in sorted(daemonset["spec"]["selector"]["matchLabels"].items()))
    say(f"switched {request.namespace}/{request.daemonset} to cleanup mode; waiting up to {request.timeout:.0f}s "
        "for every node")
    last = ""
    while True:
        progress = assess(cluster.list_nodes(request.node_mark), cluster.list_nodes(""),
                          cluster.list_pods(request.namespace, selector))
        summary = f"{len(progress.cleaned)} node(s) clean, {len(progress.pending)} pending"
        if summary != last:
            say(f"[{clock() - started:5.1f}s] {summary}")
            last = summary
        if progress.done:
            break
        if clock() - started >= request.timeout:
            say(f"uninstall incomplete after {request.timeout:.0f}s; these nodes were not cleaned:")
            for node, reason in progress.pending.items():
                say(f"  - {node}: {reason}")
            say("The release stays in 'uninstalling'. Fix what is named above (e.g. bring the node back), "
                "then run `helm uninstall` again: it resumes the cleanup.")
            return 1
        sleep(request.poll)
    cluster.delete_configmap(request.namespace, request.state_configmap)
    say(f"every node is clean ({', '.join(progress.cleaned) or 'none'}) after {clock() - started:.1f}s")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("uninstall", help="Helm pre-delete hook: clean every node of a release")
    parser.add_argument("--release", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--daemonset", required=True)
    parser.add_argument("--node-mark", required=True, help="the install's node mark label key")
    parser.add_argument("--state-configmap", required=True)
    parser.add_argument("--timeout", type=float, default=220.0, help="seconds before reporting unclean nodes")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    from hooks import kube

    request = Request(args.release, args.namespace, args.daemonset, args.node_mark, args.state_configmap,
                      args.timeout)
    return run(request, kube.ApiCluster(kube.load_client()))
