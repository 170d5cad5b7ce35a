"""`kata-deploy preflight`: the pre-install/pre-upgrade hook that refuses an install before anything is created.

The decisions are pure functions over what the API server returned (plain dicts),
so they are unit-tested without a cluster; `run` does the I/O with an injected
kubernetes client and is exercised against the real API server by the e2e suite.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hooks import naming
from hooks import shims as shim_catalog

RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
INSTANCE_LABEL = "app.kubernetes.io/instance"
STATE_KEY = "multiInstallSuffix"
# Only containerd 2.x merges an imported file's plugin tables into the main configuration
# deeply enough for a drop-in to add runtimes beside another install's (the installer
# refuses 1.x for the same reason).
MIN_CONTAINERD = (2, 0)

Obj = dict[str, Any]


@dataclass(frozen=True)
class Request:
    release: str
    namespace: str
    install: naming.Install
    distribution: str
    crio: bool
    node_selector: dict[str, str]
    state_configmap: str
    upgrade: bool


class Refusal(Exception):
    """Preflight refuses the install/upgrade; the message says why and how to fix it."""


def _owner(obj: Obj) -> tuple[str, str]:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return annotations.get(RELEASE_NAME_ANNOTATION, ""), annotations.get(RELEASE_NAMESPACE_ANNOTATION, "")


def ownership_problems(request: Request, runtime_classes: list[Obj], daemonsets: list[Obj]) -> list[str]:
    """RuntimeClasses, handlers or the suffix itself already owned by another release."""
    problems = []
    mine = {rc.name: rc.handler for rc in request.install.runtime_classes()}
    handlers = set(mine.values())
    for rc in runtime_classes:
        name = rc["metadata"]["name"]
        handler = rc.get("handler", "")
        if name not in mine and handler not in handlers:
            continue
        owner = _owner(rc)
        if owner != (request.release, request.namespace):
            who = (f"release {owner[0]!r} in namespace {owner[1]!r}" if owner[0]
                   else "no Helm release (created by hand?)")
            problems.append(
                f"RuntimeClass {name!r} (handler {handler!r}) already exists and belongs to {who}. "
                "Fix: pick another multiInstallSuffix, or uninstall that release first"
            )
    for ds in daemonsets:
        meta = ds["metadata"]
        labels = meta.get("labels") or {}
        if labels.get(naming.SUFFIX_LABEL) != request.install.tag:
            continue
        if (labels.get(INSTANCE_LABEL), meta.get("namespace")) != (request.release, request.namespace):
            problems.append(
                f"suffix {request.install.tag!r} is already used by release {labels.get(INSTANCE_LABEL)!r} "
                f"(DaemonSet {meta.get('namespace')}/{meta['name']}). Fix: choose another multiInstallSuffix"
            )
    return problems


def previous_suffix(request: Request, state: Obj | None, daemonsets: list[Obj]) -> str | None:
    """The suffix this release was installed with, from its state ConfigMap or its installer DaemonSet."""
    if state is not None:
        return str((state.get("data") or {}).get(STATE_KEY, ""))
    for ds in daemonsets:
        meta = ds["metadata"]
        labels = meta.get("labels") or {}
        if labels.get(INSTANCE_LABEL) == request.release and meta.get("namespace") == request.namespace:
            tag = labels.get(naming.SUFFIX_LABEL)
            if tag is not None:
                return "" if tag == naming.UNSUFFIXED_TAG else str(tag)
    return None


def suffix_change_problem(request: Request, previous: str | None) -> str | None:
    if not request.upgrade or previous is None or previous == request.install.suffix:
        return None
    return (
        f"multiInstallSuffix cannot change on upgrade: release {request.release!r} was installed with "
        f"{previous!r} and this upgrade asks for {request.install.suffix!r}. Its nodes, handlers and RuntimeClasses "
        f"are named after {previous!r}. Fix: keep multiInstallSuffix={previous!r}, or install a new release with "
        f"{request.install.suffix!r} beside this one and uninstall this one afterwards"
    )


_VERSION_RE = re.compile(r"^(?P<runtime>[a-z-]+)://v?(?P<major>\d+)\.(?P<minor>\d+)")


def _runtime_version(node: Obj) -> str:
    return str((node.get("status", {}).get("nodeInfo") or {}).get("containerRuntimeVersion", ""))


def runtime_problem(request: Request, node: Obj) -> str | None:
    """Why this node's container runtime cannot take this install's drop-in, or None."""
    name = node["metadata"]["name"]
    version = _runtime_version(node)
    match = _VERSION_RE.match(version)
    if not match:
        return (f"node {name!r} reports container runtime {version!r}, which kata-deploy cannot identify. "
                "Fix: wait until the node reports its runtime (is it restarting?), then retry")
    runtime = match["runtime"]
    if request.crio:
        if runtime != "cri-o":
            return f"node {name!r} runs {version}, but crio.enabled=true. Fix: set crio.enabled=false"
        return None
    if runtime == "cri-o":
        return f"node {name!r} runs {version}. Fix: set crio.enabled=true for CRI-O nodes"
    if runtime != "containerd":
        return (
            f"node {name!r} runs {version}, which cannot take containerd drop-in files. "
            "Fix: exclude it with nodeSelector, or move it to containerd or CRI-O"
        )
    if (int(match["major"]), int(match["minor"])) < MIN_CONTAINERD:
        return (
            f"node {name!r} runs {version}; multi-install needs containerd >= "
            f"{MIN_CONTAINERD[0]}.{MIN_CONTAINERD[1]} to read this install's drop-in through `imports`. "
            "Fix: upgrade containerd on that node, or exclude it with nodeSelector"
        )
    return None


def decide(request: Request, runtime_classes: list[Obj], daemonsets: list[Obj], nodes: list[Obj],
           state: Obj | None) -> list[str]:
    """Every reason to refuse, in the order a user should fix them."""
    problems = ownership_problems(request, runtime_classes, daemonsets)
    change = suffix_change_problem(request, previous_suffix(request, state, daemonsets))
    if change:
        problems.insert(0, change)
    problems += [p for p in (runtime_problem(request, node) for node in nodes) if p]
    return problems


class Cluster(Protocol):
    """What preflight reads and writes; kubernetes_cluster() adapts the official client."""

    def list_runtime_classes(self) -> list[Obj]: ...
    def list_daemonsets(self) -> list[Obj]: ...
    def list_nodes(self, selector: str) -> list[Obj]: ...
    def read_configmap(self, namespace: str, name: str) -> Obj | None: ...
    def write_configmap(self, namespace: str, name: str, labels: dict[str, str], data: dict[str, str]) -> None: ...


def selector_string(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _identified(node: Obj) -> bool:
    return bool(_VERSION_RE.match(_runtime_version(node)))


def settled_nodes(cluster: Cluster, selector: str, settle: float, say: Any,
                  clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> list[Obj]:
    """The target nodes, once each reports its runtime version.

    The kubelet reports `containerd://Unknown` while containerd restarts (another install
    on the node just changed its configuration): wait that out rather than refuse.
    """
    started = clock()
    while True:
        nodes = cluster.list_nodes(selector)
        waiting = [n["metadata"]["name"] for n in nodes if not _identified(n)]
        if not waiting or clock() - started >= settle:
            return nodes
        say(f"waiting for the container runtime of {', '.join(waiting)} to report its version")
        sleep(2.0)


def run(request: Request, cluster: Cluster, say: Any = print, settle: float = 60.0) -> int:
    state = cluster.read_configmap(request.namespace, request.state_configmap)
    nodes = settled_nodes(cluster, selector_string(request.node_selector), settle, say)
    problems = decide(request, cluster.list_runtime_classes(), cluster.list_daemonsets(), nodes, state)
    if problems:
        say(f"preflight refused {'upgrade' if request.upgrade else 'install'} of release {request.release!r}:")
        for problem in problems:
            say(f"  - {problem}.")
        say("Nothing of the release was created or changed.")
        return 1
    cluster.write_configmap(
        request.namespace, request.state_configmap,
        {INSTANCE_LABEL: request.release, "app.kubernetes.io/managed-by": "kata-deploy-preflight"},
        {STATE_KEY: request.install.suffix},
    )
    if not nodes:
        say(f"warning: no node matches nodeSelector {request.node_selector or '{}'}; nothing will be installed yet")
    say(f"preflight ok: suffix {request.install.tag!r}, {len(nodes)} node(s) can take the install, "
        f"no other release owns its names")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("preflight", help="Helm pre-install/pre-upgrade checks (runs as a hook Job)")
    parser.add_argument("--release", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--suffix", default="")
    parser.add_argument("--shims", default=",".join(shim_catalog.DEFAULT_SHIMS))
    parser.add_argument("--default-shim", default=shim_catalog.DEFAULT_SHIM)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--distribution", default="k8s", choices=sorted(naming.DISTRIBUTIONS))
    parser.add_argument("--crio", action="store_true")
    parser.add_argument("--node-selector", default="{}", help="the DaemonSet's nodeSelector, as JSON")
    parser.add_argument("--state-configmap", required=True)
    parser.add_argument("--upgrade", action="store_true")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        install = naming.Install.validated(args.suffix, shim_catalog.parse_list(args.shims), args.default_shim,
                                           args.debug)
    except ValueError as err:
        print(f"preflight refused: {err}")
        return 1
    from hooks import kube

    request = Request(args.release, args.namespace, install, args.distribution, args.crio,
                      json.loads(args.node_selector), args.state_configmap, args.upgrade)
    return run(request, kube.ApiCluster(kube.load_client()))
