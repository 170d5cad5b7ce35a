"""A tiny stand-in for the Kubernetes API server: one Node and some DaemonSets, over real HTTP.

Enough for the installer's own calls through the official client (read/patch node,
read daemonset), so `kata-deploy run` can be tested as a process with real signals
before the e2e tests run it against a real API server on kind.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class State:
    node: str = "node-1"
    labels: dict[str, str] = field(default_factory=dict)
    runtime_version: str = "containerd://2.1.4"
    # (namespace, name) -> "present" | "deleting"; absent means 404
    daemonsets: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _node(state: State) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": state.node, "labels": dict(state.labels)},
            "status": {"nodeInfo": {"containerRuntimeVersion": state.runtime_version, "architecture": "amd64",
                                    "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "",
                                    "machineID": "", "operatingSystem": "linux", "osImage": "", "systemUUID": ""}}}


def _handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self) -> None:
            self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                             "code": 404})

        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(f"GET {self.path}")
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts == ["api", "v1", "nodes", state.node]:
                    self._send(200, _node(state))
                elif len(parts) == 7 and parts[:3] == ["apis", "apps", "v1"] and parts[5] == "daemonsets":
                    found = state.daemonsets.get((parts[4], parts[6]))
                    if found is None:
                        self._not_found()
                        return
                    meta: dict[str, Any] = {"name": parts[6], "namespace": parts[4]}
                    if found == "deleting":
                        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
                    spec = {"selector": {"matchLabels": {"name": parts[6]}},
                            "template": {"metadata": {"labels": {"name": parts[6]}},
                                         "spec": {"containers": [{"name": "installer", "image": "x"}]}}}
                    self._send(200, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta, "spec": spec})
                else:
                    self._not_found()

        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append(f"PATCH {self.path} {json.dumps(body, sort_keys=True)}")
                if self.path.split("?")[0].strip("/").split("/") != ["api", "v1", "nodes", state.node]:
                    self._not_found()
                    return
                for key, value in body.get("metadata", {}).get("labels", {}).items():
                    if value is None:
                        state.labels.pop(key, None)
                    else:
                        state.labels[key] = value
                self._send(200, _node(state))

    return Handler


class FakeAPIServer:
    def __init__(self, state: State) -> None:
        self.state = state
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAPIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "test"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path
