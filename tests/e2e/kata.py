"""Driving the real helm binaries against the kind cluster, and reading the nodes themselves.

Every wait here waits on what the tests check (DaemonSet pods updated and Ready,
node marks, files on the nodes), never on `helm --wait` alone: Helm 3 counts a
one-node DaemonSet rollout as done at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hooks import naming
from tests.conftest import CHART, REPO, TOOLS

NAMESPACE = "kata-e2e"
KIND_VALUES = CHART / "ci" / "kind-values.yaml"
TIMINGS = REPO / ".tools" / "e2e-timings.txt"
# Host trees an install may touch; the lock file under /run is shared on purpose and left alone.
FINGERPRINT_ROOTS = ("/opt", "/etc/containerd", "/etc/crio")
SUFFIX_SELECTOR = naming.SUFFIX_LABEL


def sh(cmd: list[str], *, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None,
       stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, input=stdin, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def wait_for(what: str, condition: Callable[[], Any], timeout: float, poll: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def record_timing(line: str) -> None:
    TIMINGS.parent.mkdir(exist_ok=True)
    with TIMINGS.open("a") as handle:
        handle.write(line + "\n")


@dataclass
class Driver:
    kubeconfig: Path
    nodes: list[str]
    helm4_home: Path
    env: dict[str, str] = field(init=False)
    helm4_env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{REPO / '.venv' / 'bin'}:{TOOLS}:{os.environ['PATH']}",
        }
        # Helm 4 gets a home of its own, with the plugin: Helm 3 cannot read postrenderer/v1 plugins.
        self.helm4_env = {**self.env, **{f"HELM_{kind}_HOME": str(self.helm4_home / kind.lower())
                                         for kind in ("CONFIG", "DATA", "CACHE")}}

    # --- commands --------------------------------------------------------------------
    def helm(self, major: int, *args: str, check: bool = True,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
        binary = TOOLS / ("helm4" if major == 4 else "helm")
        return sh([str(binary), *args], check=check, timeout=timeout, env=self.helm4_env if major == 4 else self.env)

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return sh([str(TOOLS / "kubectl"), *args], check=check, timeout=timeout, env=self.env)

    def apply(self, manifest: str) -> None:
        sh([str(TOOLS / "kubectl"), "apply", "-f", "-"], stdin=manifest, env=self.env)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def node_exec(self, node: str, script: str, check: bool = True) -> str:
        return sh(["docker", "exec", node, "sh", "-c", script], check=check).stdout

    def install_plugin(self) -> None:
        if not (self.helm4_home / "data" / "plugins").exists():
            self.helm(4, "plugin", "install", str(REPO / "postrender" / "helm-plugin"))

    # --- releases --------------------------------------------------------------------
    def release_args(self, suffix: str, values: list[str]) -> list[str]:
        return [str(CHART), "-n", NAMESPACE, "-f", str(KIND_VALUES), "--set-string", f"multiInstallSuffix={suffix}",
                "--post-renderer", "kata-deploy-postrender", "--timeout", "5m", *values]

    def install(self, release: str, suffix: str, *values: str, major: int = 3,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.helm(major, "install", release, *self.release_args(suffix, list(values)), "--create-namespace",
                         "--wait", check=check)

    def upgrade(self, release: str, suffix: str, *values: str, major: int = 3,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.helm(major, "upgrade", release, *self.release_args(suffix, list(values)), "--wait", check=check)

    def uninstall(self, release: str, major: int = 3, check: bool = True,
                  timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.helm(major, "uninstall", release, "-n", NAMESPACE, "--wait", "--timeout", "5m", check=check,
                         timeout=timeout)

    # --- waiting on what matters -----------------------------------------------------------
    def installer_ready(self, suffix: str) -> bool:
        install = naming.Install(suffix)
        ds = self.kubectl_json("-n", NAMESPACE, "get", "daemonset", install.fullname)
        status, desired = ds["status"], ds["status"].get("desiredNumberScheduled", -1)
        rolled = (status.get("observedGeneration", 0) >= ds["metadata"]["generation"]
                  and status.get("updatedNumberScheduled") == desired == status.get("numberReady") == len(self.nodes)
                  and not status.get("numberUnavailable"))
        if not rolled:
            return False
        pods = self.kubectl_json("-n", NAMESPACE, "get", "pods", "-l", f"{SUFFIX_SELECTOR}={install.tag}")["items"]
        if any(p["metadata"].get("deletionTimestamp") for p in pods):
            return False
        labels = [n["metadata"]["labels"] for n in self.kubectl_json("get", "nodes")["items"]]
        return all(lab.get(install.node_mark) == "true" and lab.get(naming.SHARED_NODE_LABEL) == "true"
                   for lab in labels)

    def wait_installed(self, suffix: str, timeout: float = 240) -> None:
        wait_for(f"install {suffix!r} ready on every node", lambda: self.installer_ready(suffix), timeout)

    # --- reading the nodes -------------------------------------------------------------------
    def fingerprint(self, node: str) -> dict[str, str]:
        """Type, mode, link target and sha256 of everything under the host trees an install touches."""
        roots = " ".join(FINGERPRINT_ROOTS)
        listing = self.node_exec(node, f"for r in {roots}; do [ -e $r ] && find $r -printf '%y %m %p %l\\n'; "
                                       "done; true")
        hashes = self.node_exec(node, f"for r in {roots}; do [ -e $r ] && find $r -type f -exec sha256sum {{}} +; "
                                      "done; true")
        digest = {path: sha for sha, path in (line.split("  ", 1) for line in hashes.splitlines())}
        result = {}
        for line in listing.splitlines():
            kind, mode, rest = line.split(" ", 2)
            path, _, link = rest.partition(" ")
            result[path] = f"{kind} {mode} {link} {digest.get(path, '')}".strip()
        return result

    def fingerprints(self) -> dict[str, dict[str, str]]:
        return {node: self.fingerprint(node) for node in self.nodes}

    def containerd_invocation(self, node: str) -> str:
        return self.node_exec(node, "systemctl show -p InvocationID --value containerd").strip()

    def invocations(self) -> dict[str, str]:
        return {node: self.containerd_invocation(node) for node in self.nodes}

    def crictl_handlers(self, node: str) -> set[str]:
        info = json.loads(self.node_exec(node, "crictl info"))
        return set(info["config"]["containerd"]["runtimes"])

    def node_labels(self) -> dict[str, dict[str, str]]:
        return {n["metadata"]["name"]: {k: v for k, v in n["metadata"]["labels"].items()
                                        if "katacontainers.io" in k}
                for n in self.kubectl_json("get", "nodes")["items"]}

    def grep_nodes(self, pattern: str) -> list[str]:
        """Files under the host trees (as node:path) containing `pattern`."""
        found = []
        for node in self.nodes:
            out = self.node_exec(node, f"grep -rlF -- '{pattern}' {' '.join(FINGERPRINT_ROOTS)} 2>/dev/null; true")
            found += [f"{node}:{p}" for p in out.split()]
        return found

    def find_nodes(self, name_glob: str) -> list[str]:
        found = []
        for node in self.nodes:
            out = self.node_exec(node, f"find {' '.join(FINGERPRINT_ROOTS)} -name '{name_glob}' 2>/dev/null; true")
            found += [f"{node}:{p}" for p in out.split()]
        return found

    # --- the cluster -------------------------------------------------------------------------
    def objects_labelled(self, selector: str) -> list[str]:
        """Every object of every listable kind, namespaced and cluster-scoped, matching `selector`."""
        kinds = self.kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
        kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
        out = self.kubectl("get", ",".join(kinds), "-A", "-l", selector, "-o", "name", "--ignore-not-found")
        return sorted(out.stdout.split())

    def event_count(self, object_name: str, reason: str) -> int:
        events = self.kubectl_json("-n", NAMESPACE, "get", "events", "--field-selector",
                                   f"involvedObject.name={object_name},reason={reason}")["items"]
        return sum(int(e.get("count") or 1) for e in events)

    def failed_pods(self) -> list[str]:
        pods = self.kubectl_json("-n", NAMESPACE, "get", "pods")["items"]
        return [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Failed"]

    def diagnostics(self) -> str:
        """What a person needs when an e2e fails: helm state, events, pod logs, the nodes' files."""
        parts = []

        def section(title: str, text: str) -> None:
            parts.append(f"===== {title}\n{text.strip()}")

        releases = self.helm(3, "list", "-A", "-a", check=False).stdout
        section("helm list -A -a", releases)
        for line in releases.splitlines()[1:]:
            name, namespace = line.split()[:2]
            section(f"helm status/history {name}", self.helm(3, "status", name, "-n", namespace, check=False).stdout
                    + self.helm(3, "history", name, "-n", namespace, check=False).stdout)
        section("events", self.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp", check=False).stdout[-6000:])
        section("pods", self.kubectl("get", "pods", "-A", "-o", "wide", check=False).stdout)
        pods = self.kubectl("-n", NAMESPACE, "get", "pods", "-o", "name", check=False).stdout.split()
        for pod in pods:
            section(f"logs {pod}", self.kubectl("-n", NAMESPACE, "logs", pod, "--all-containers", "--tail=60",
                                                check=False).stdout)
            section(f"previous logs {pod}", self.kubectl("-n", NAMESPACE, "logs", pod, "--previous", "--tail=30",
                                                         check=False).stdout)
        for node in self.nodes:
            section(f"{node}: install dirs and drop-ins", self.node_exec(
                node, "ls -la /opt /etc/containerd /etc/containerd/conf.d 2>&1; "
                      "for f in /etc/containerd/conf.d/*.toml; do echo \"--- $f\"; head -40 $f; done; "
                      "journalctl -u containerd --no-pager | tail -15", check=False))
        return "\n".join(parts)
