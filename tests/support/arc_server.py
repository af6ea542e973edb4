"""The Arc test agent: the demo's Arc server (demo/arc_server.py) with faults and counters.

Besides AgentResult dicts, a behaviour may yield `SendError(...)` (an `error` frame),
`SendRaw(...)` (any text, e.g. garbage) or `CloseSocket()`. The server records what it
saw: the handshake headers and variables of every subscription, the connections it
accepted and the subscriptions cancelled by the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection

from agents.client import SUBPROTOCOL
from demo.arc_server import ArcServer as _DemoArcServer
from demo.arc_server import Behaviour, agent_result

__all__ = ["ArcServer", "Behaviour", "CloseSocket", "SendError", "SendRaw", "agent_result"]


@dataclass
class SendError:
    message: str


@dataclass
class SendRaw:
    text: str


@dataclass
class CloseSocket:
    pass


class ArcServer(_DemoArcServer):
    def __init__(
        self, behaviour: Behaviour, host: str = "127.0.0.1", port: int = 0, *, require_subprotocol: bool = True
    ) -> None:
        super().__init__(behaviour, host=host, port=port)
        self.require_subprotocol = require_subprotocol
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.connections = 0
        self.cancelled = 0

    async def accepts(self, ws: ServerConnection) -> bool:
        self.connections += 1
        if self.require_subprotocol and ws.subprotocol != SUBPROTOCOL:
            await ws.close(4406, "Subprotocol not acceptable")
            return False
        return True

    def on_subscribe(self, headers: dict[str, str], variables: dict[str, Any]) -> None:
        self.received.append((headers, variables))

    def on_cancel(self) -> None:
        self.cancelled += 1

    async def emit(self, ws: ServerConnection, send: Callable, sub_id: str, item: Any) -> bool:
        if isinstance(item, SendError):
            await send({"type": "error", "id": sub_id, "payload": [{"message": item.message}]})
            return False
        if isinstance(item, SendRaw):
            await send(item.text)
            return True
        if isinstance(item, CloseSocket):
            await ws.close()
            return False
        return await super().emit(ws, send, sub_id, item)
