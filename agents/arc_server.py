"""A small Arc agent server (graphql-transport-ws), used by the demo agents and by tests.

A behaviour is an async generator `behaviour(request, headers)` that yields what to send
for one subscription: an AgentResult dict (sent as a `next` frame), `SendError(...)`
(an `error` frame), `SendRaw(...)` (any text, e.g. garbage), or `CloseSocket()`. When it
returns, the server sends `complete`. Several subscriptions on one socket run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agents.client import SUBPROTOCOL


@dataclass
class SendError:
    message: str


@dataclass
class SendRaw:
    text: str


@dataclass
class CloseSocket:
    pass


Behaviour = Callable[[dict[str, Any], dict[str, str]], AsyncIterator[Any]]


def agent_result(*contents: str, anonymization_entities: list[dict] | None = None) -> dict[str, Any]:
    return {
        "status": "ONLINE",
        "type": "ASSISTANT",
        "responseTime": 0.0,
        "messages": [{"content": c, "format": "text", "role": "assistant"} for c in contents],
        "anonymizationEntities": anonymization_entities or [],
        "context": [],
        "toolCalls": [],
    }


@dataclass
class ArcServer:
    behaviour: Behaviour
    host: str = "127.0.0.1"
    port: int = 0
    require_subprotocol: bool = True
    # What the server saw, for tests: (headers, variables) per subscription.
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    connections: int = 0
    cancelled: int = 0
    _server: Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> ArcServer:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=[SUBPROTOCOL],
            compression=None,
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self.require_subprotocol and ws.subprotocol != SUBPROTOCOL:
            await ws.close(4406, "Subprotocol not acceptable")
            return
        headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
        tasks: dict[str, asyncio.Task] = {}
        send_lock = asyncio.Lock()

        async def send(frame: dict[str, Any] | str) -> None:
            async with send_lock:
                await ws.send(frame if isinstance(frame, str) else json.dumps(frame))

        async def run(sub_id: str, variables: dict[str, Any]) -> None:
            try:
                async for item in self.behaviour(variables, headers):
                    if isinstance(item, SendError):
                        await send({"type": "error", "id": sub_id, "payload": [{"message": item.message}]})
                        return
                    if isinstance(item, SendRaw):
                        await send(item.text)
                        continue
                    if isinstance(item, CloseSocket):
                        await ws.close()
                        return
                    await send({"type": "next", "id": sub_id, "payload": {"data": {"agent": item}}})
                await send({"type": "complete", "id": sub_id})
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            except ConnectionClosed:
                pass
            finally:
                tasks.pop(sub_id, None)

        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    await ws.close(4400, "Invalid message")
                    return
                kind = frame.get("type")
                if kind == "connection_init":
                    await send({"type": "connection_ack"})
                elif kind == "ping":
                    await send({"type": "pong"})
                elif kind == "subscribe":
                    sub_id = frame["id"]
                    variables = (frame.get("payload") or {}).get("variables") or {}
                    self.received.append((headers, variables))
                    tasks[sub_id] = asyncio.create_task(run(sub_id, variables))
                elif kind == "complete":
                    task = tasks.pop(frame.get("id"), None)
                    if task is not None:
                        task.cancel()
        except ConnectionClosed:
            pass
        finally:
            for task in list(tasks.values()):
                task.cancel()
            for task in list(tasks.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
