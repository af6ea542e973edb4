"""A small Arc agent server (GraphQL over WebSocket, graphql-transport-ws) for the demo agents.

A behaviour is an async generator `behaviour(variables, headers)` that yields the
AgentResult dicts of one subscription, each sent as a `next` frame; when it returns, the
server sends `complete`. Several subscriptions on one socket run concurrently, and a
`complete` from the client cancels its subscription. The test server
(tests/support/arc_server.py) extends this one with fault injection and counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agents.client import SUBPROTOCOL

Behaviour = Callable[[dict[str, Any], dict[str, str]], AsyncIterator[Any]]


def agent_result(
    *contents: str, type: str | None = "MESSAGE", anonymization_entities: list[dict] | None = None
) -> dict[str, Any]:
    """An Arc AgentResult with one assistant message per content."""
    return {
        "status": "ONLINE",
        "type": type,
        "responseTime": 0.0,
        "messages": [{"content": c, "format": "text", "role": "assistant"} for c in contents],
        "anonymizationEntities": anonymization_entities or [],
        "context": [],
        "toolCalls": [],
    }


class ArcServer:
    def __init__(self, behaviour: Behaviour, host: str = "127.0.0.1", port: int = 0) -> None:
        self.behaviour = behaviour
        self.host = host
        self.port = port
        self._server: Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> ArcServer:
        self._server = await serve(
            self._handle, self.host, self.port, subprotocols=[SUBPROTOCOL], compression=None, ping_interval=None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def accepts(self, ws: ServerConnection) -> bool:
        """Whether to serve this connection (a subclass may refuse it, after closing it)."""
        return True

    def on_subscribe(self, headers: dict[str, str], variables: dict[str, Any]) -> None:
        """Called for every subscription (a hook for subclasses)."""

    def on_cancel(self) -> None:
        """Called when a subscription is cancelled (a hook for subclasses)."""

    async def emit(self, ws: ServerConnection, send: Callable, sub_id: str, item: Any) -> bool:
        """Send one item a behaviour yielded; False ends the subscription without `complete`."""
        await send({"type": "next", "id": sub_id, "payload": {"data": {"agent": item}}})
        return True

    async def _handle(self, ws: ServerConnection) -> None:
        if not await self.accepts(ws):
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
                    if not await self.emit(ws, send, sub_id, item):
                        return
                await send({"type": "complete", "id": sub_id})
            except asyncio.CancelledError:
                self.on_cancel()
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
                    self.on_subscribe(headers, variables)
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
