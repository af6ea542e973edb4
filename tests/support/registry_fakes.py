"""Loopback servers for the registry tests: an LMOS Operator and a Kubernetes API server.

Both are real HTTP servers on 127.0.0.1 that answer what the real ones answer, shaped like
the LMOS fixtures (`metadata.labels` tenant/channel/version/subset,
`spec.capabilityGroups[].capabilities[].host`). Tests change their behaviour per path:
status, body, delay, or a number of failures before answering normally.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def routing_doc(
    tenant: str,
    channel: str,
    subset: str = "stable",
    *,
    version: str = "1.0.0",
    agents: dict[str, str] | None = None,
    examples: bool = True,
) -> dict[str, Any]:
    """A ChannelRouting as the LMOS Operator serves it; `agents` maps name -> description."""
    agents = agents if agents is not None else {"billing-agent": "Answers questions about bills"}
    groups = []
    for name, description in agents.items():
        capability = {
            "id": f"{name}-cap-id",
            "name": f"{name}-cap",
            "providedVersion": "1.0.0",
            "requiredVersion": ">=1.0.0",
            "description": f"{description} (capability)",
            "host": f"{name}.default.svc.cluster.local",
        }
        if examples:
            capability["examples"] = [f"help me with {name}"]
        groups.append({"id": f"{name}-id", "name": name, "description": description, "capabilities": [capability]})
    return {
        "apiVersion": "lmos.eclipse/v1",
        "kind": "ChannelRouting",
        "metadata": {
            "name": f"{tenant}-{channel}-{subset}",
            "namespace": "default",
            "labels": {"tenant": tenant, "channel": channel, "version": version, "subset": subset},
        },
        "spec": {"capabilityGroups": groups},
    }


def channel_doc(tenant: str, channel: str, subset: str = "stable", version: str = "1.0.0") -> dict[str, Any]:
    return {
        "apiVersion": "lmos.eclipse/v1",
        "kind": "Channel",
        "metadata": {
            "name": f"{tenant}-{channel}-{subset}",
            "namespace": "default",
            "labels": {"tenant": tenant, "channel": channel, "version": version, "subset": subset},
        },
        "spec": {"requiredCapabilities": [{"name": "view-bill", "version": ">=1.0.0"}]},
        "status": {"resolveStatus": "RESOLVED"},
    }


@dataclass
class Behaviour:
    """How a fake answers one path instead of normally."""

    status: int = 200
    body: bytes | None = None
    delay: float = 0.0
    failures: int = -1  # answer like this this many times, then normally (-1: always)


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread, with a request log."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and
                # delayed ACKs add ~40 ms to every keep-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> Counter[str]:
        with self.lock:
            return Counter(path for path, _ in self.requests)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        with self.lock:
            self.requests.append((handler.path, {k.lower(): v for k, v in handler.headers.items()}))
            behaviour = self.behaviours.get(path) or self.behaviours.get("*")
            if behaviour is not None and behaviour.failures == 0:
                behaviour = None
            elif behaviour is not None and behaviour.failures > 0:
                behaviour.failures -= 1
        if behaviour is not None and behaviour.delay:
            time.sleep(behaviour.delay)
        if behaviour is not None and (behaviour.status != 200 or behaviour.body is not None):
            status, body = behaviour.status, behaviour.body or b""
        else:
            status, body = self.answer(handler, path)
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout tests)

    def answer(self, handler: BaseHTTPRequestHandler, path: str) -> tuple[int, bytes]:
        raise NotImplementedError


class FakeOperator(_Server):
    """The LMOS Operator's routing API for tenants, channels and subsets set by the test."""

    def __init__(self) -> None:
        # (tenant, subset) -> channel -> ChannelRouting document (None: channel without routing)
        self.registry: dict[tuple[str, str], dict[str, dict[str, Any] | None]] = {}
        super().__init__()

    def put(self, routing: dict[str, Any]) -> None:
        labels = routing["metadata"]["labels"]
        self.registry.setdefault((labels["tenant"], labels["subset"]), {})[labels["channel"]] = routing

    def put_channel_without_routing(self, tenant: str, channel: str, subset: str = "stable") -> None:
        self.registry.setdefault((tenant, subset), {})[channel] = None

    def remove(self, tenant: str, channel: str, subset: str = "stable") -> None:
        self.registry.get((tenant, subset), {}).pop(channel, None)

    def channels_path(self, tenant: str) -> str:
        return f"/apis/v1/tenants/{tenant}/channels"

    def routing_path(self, tenant: str, channel: str) -> str:
        return f"/apis/v1/tenants/{tenant}/channels/{channel}/routing"

    def answer(self, handler: BaseHTTPRequestHandler, path: str) -> tuple[int, bytes]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        subset = handler.headers.get("x-subset") or "stable"
        if parts[:3] != ["apis", "v1", "tenants"] or len(parts) < 5 or parts[4] != "channels":
            return 404, b""
        channels = self.registry.get((parts[3], subset), {})
        if len(parts) == 5:
            docs = [channel_doc(parts[3], c, subset) for c in sorted(channels)]
            return 200, json.dumps(docs).encode()
        if len(parts) == 7 and parts[6] == "routing":
            routing = channels.get(parts[5])
            return (404, b"") if routing is None else (200, json.dumps(routing).encode())
        return 404, b""


class FakeKubernetes(_Server):
    """The custom-objects part of a Kubernetes API server: list ChannelRoutings and Agents
    with label selectors, answering only requests with the kubeconfig's bearer token."""

    TOKEN = "registry-test-token"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (namespace, plural) -> items
        super().__init__()

    def add(self, plural: str, item: dict[str, Any], namespace: str = "default") -> None:
        self.objects.setdefault((namespace, plural), []).append(item)

    def kubeconfig(self, directory: Path, namespace: str = "default") -> Path:
        path = directory / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": self.TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))  # JSON is YAML
        return path

    def answer(self, handler: BaseHTTPRequestHandler, path: str) -> tuple[int, bytes]:
        if handler.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return 401, json.dumps({"kind": "Status", "status": "Failure", "code": 401}).encode()
        parts = path.strip("/").split("/")
        # /apis/lmos.eclipse/v1/namespaces/{ns}/{plural}
        if len(parts) != 6 or parts[:3] != ["apis", "lmos.eclipse", "v1"] or parts[3] != "namespaces":
            return 404, json.dumps({"kind": "Status", "status": "Failure", "code": 404}).encode()
        selector = parse_qs(urlsplit(handler.path).query).get("labelSelector", [""])[0]
        wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
        items = [
            item
            for item in self.objects.get((parts[4], parts[5]), [])
            if all(item.get("metadata", {}).get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        kind = "ChannelRoutingList" if parts[5] == "channelroutings" else "AgentList"
        answer = {"apiVersion": "lmos.eclipse/v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items}
        return 200, json.dumps(answer).encode()


def agent_doc(name: str, examples: dict[str, list[str]]) -> dict[str, Any]:
    """An LMOS Agent custom object whose provided capabilities carry examples."""
    return {
        "apiVersion": "lmos.eclipse/v1",
        "kind": "Agent",
        "metadata": {"name": name, "namespace": "default", "labels": {"version": "1.0.0"}},
        "spec": {
            "description": f"{name} agent",
            "supportedTenants": ["acme"],
            "supportedChannels": ["web"],
            "providedCapabilities": [
                {"name": cap, "version": "1.0.0", "description": cap, "examples": ex} for cap, ex in examples.items()
            ],
        },
    }
