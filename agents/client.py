"""The Arc agent client: GraphQL subscriptions over WebSocket (graphql-transport-ws).

One turn is one `agent` subscription. Connections are pooled per (url, subset) and
multiplexed, as the protocol allows: a reader task per connection dispatches frames to
the subscription they belong to. Everything is async: a turn waiting on a slow agent
holds no thread and no database connection.

Results are read by their Arc type (`AgentResult.type`: MESSAGE, INTERMEDIATE_MESSAGE,
EVENT, ERROR; null is MESSAGE, as older agents send). `AgentReply` decides the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from core import metrics, tracing
from core.errors import AgentClientError, AgentTimeout

log = logging.getLogger("agents.client")

SUBPROTOCOL = "graphql-transport-ws"

MESSAGE, INTERMEDIATE_MESSAGE, EVENT, ERROR = "MESSAGE", "INTERMEDIATE_MESSAGE", "EVENT", "ERROR"
RESULT_TYPES = (MESSAGE, INTERMEDIATE_MESSAGE, EVENT, ERROR)

# Events are kept for the turn's record, not for the user: bounded so that a chatty agent
# cannot grow a turn's row without limit.
MAX_EVENTS = 50
MAX_EVENT_CHARS = 4000

AGENT_SUBSCRIPTION = """subscription($request: AgentRequestInput!, $agentName: String) {
  agent(agentName: $agentName, request: $request) {
    status type responseTime
    messages { content format role }
    anonymizationEntities { type value replacement }
    context { key value }
    toolCalls { name arguments }
  }
}"""


def agent_url(address: str) -> str:
    """The WebSocket URL of an agent's address (the Arc agent protocol's addressing rule).

    ws:// or wss:// is used as is; `host:port` gets /subscriptions; a bare host gets
    port 8080. An http(s):// address is taken as the same host over ws(s)://.
    """
    address = address.strip()
    if address.startswith(("ws://", "wss://")):
        return address
    if address.startswith(("http://", "https://")):
        scheme = "wss" if address.startswith("https://") else "ws"
        rest = address.split("://", 1)[1].rstrip("/")
        return f"{scheme}://{rest}" if "/" in rest else f"{scheme}://{rest}/subscriptions"
    host = address.rstrip("/")
    last = host.rsplit(":", 1)
    if len(last) == 2 and last[1].isdigit() and not host.endswith("]"):
        return f"ws://{host}/subscriptions"
    return f"ws://{host}:8080/subscriptions"


@dataclass
class AgentCall:
    """What the runtime sends to an agent for one turn."""

    address: str
    subset: str
    messages: list[dict[str, Any]]
    conversation_id: str
    turn_id: str
    anonymization_entities: list[dict[str, Any]] = field(default_factory=list)
    system_context: list[dict[str, str]] = field(default_factory=list)
    user_id: str = ""
    user_token: str | None = None
    user_profile: list[dict[str, str]] = field(default_factory=list)
    agent_name: str | None = None  # the routed agent, sent as `agentName` only with AGENT_SEND_NAME
    traceparent: str | None = None

    def variables(self) -> dict[str, Any]:
        return {
            # Null, as the Kotlin runtime sends: an Arc host serving several agents then picks its
            # own default, since capability-group names and Arc agent names need not match.
            "agentName": self.agent_name if settings.AGENT_SEND_NAME else None,
            "request": {
                "messages": self.messages,
                "conversationContext": {
                    "conversationId": self.conversation_id,
                    "turnId": self.turn_id,
                    "anonymizationEntities": self.anonymization_entities,
                },
                "systemContext": self.system_context,
                "userContext": {"userId": self.user_id, "userToken": self.user_token, "profile": self.user_profile},
            },
        }


class _Closed:
    def __init__(self, error: AgentClientError, *, shared: bool) -> None:
        self.error = error
        # Other subscriptions were on the connection when it broke: the cause may be theirs.
        self.shared = shared


class _Connection:
    """One WebSocket to an agent, shared by concurrent subscriptions."""

    def __init__(self, ws: ClientConnection, url: str) -> None:
        self.ws = ws
        self.url = url
        self.queues: dict[str, asyncio.Queue] = {}
        self.closed = False
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, *, url: str, subset: str, traceparent: str | None, timeout: float) -> _Connection:
        headers = {"x-subset": subset}
        if traceparent:
            headers["traceparent"] = traceparent
        try:
            ws = await connect(
                url,
                subprotocols=[SUBPROTOCOL],
                additional_headers=headers,
                open_timeout=timeout,
                proxy=None,
                compression=None,
                ping_interval=None,
                close_timeout=1,
                max_size=16 * 1024 * 1024,
            )
        except TimeoutError:
            raise AgentClientError(
                f"Agent at {url} did not accept the connection in time", kind="unreachable"
            ) from None
        except (OSError, InvalidHandshake, InvalidURI) as exc:
            raise AgentClientError(f"Agent at {url} is unreachable: {exc}", kind="unreachable") from None
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                raw = await asyncio.wait_for(ws.recv(), remaining)
                frame = _parse(raw, url)
                kind = frame.get("type")
                if kind == "connection_ack":
                    break
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                    continue
                raise AgentClientError(f"Agent at {url} answered connection_init with {kind!r}", kind="protocol")
        except TimeoutError:
            await ws.close()
            raise AgentClientError(f"Agent at {url} did not acknowledge the connection", kind="unreachable") from None
        except ConnectionClosed:
            raise AgentClientError(
                f"Agent at {url} closed the connection during the handshake", kind="closed"
            ) from None
        except AgentClientError:
            await ws.close()
            raise
        return cls(ws, url)

    async def _read(self) -> None:
        error = AgentClientError(f"Agent at {self.url} closed the connection before completing", kind="closed")
        try:
            async for raw in self.ws:
                try:
                    frame = _parse(raw, self.url)
                except AgentClientError as exc:
                    error = exc
                    break
                kind = frame.get("type")
                if kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                queue = self.queues.get(frame.get("id")) if isinstance(frame.get("id"), str) else None
                if queue is not None and kind in ("next", "error", "complete"):
                    queue.put_nowait(frame)
        except ConnectionClosed:
            pass
        except Exception as exc:  # the reader must never die silently: fail the waiters
            error = AgentClientError(f"Agent connection to {self.url} failed: {exc}", kind="protocol")
        finally:
            self.closed = True
            shared = len(self.queues) > 1
            for queue in self.queues.values():
                queue.put_nowait(_Closed(error, shared=shared))
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def subscribe(self, sub_id: str, variables: dict[str, Any]) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self.queues[sub_id] = queue
        message = {"type": "subscribe", "id": sub_id, "payload": {"query": AGENT_SUBSCRIPTION, "variables": variables}}
        try:
            await self.ws.send(json.dumps(message))
        except ConnectionClosed:
            self.queues.pop(sub_id, None)
            raise AgentClientError(f"Agent at {self.url} closed the connection", kind="closed") from None
        return queue

    async def release(self, sub_id: str, *, cancel: bool) -> None:
        self.queues.pop(sub_id, None)
        if cancel and not self.closed:
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps({"type": "complete", "id": sub_id}))

    async def close(self) -> None:
        self.closed = True
        self.reader.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


def _parse(raw: str | bytes, url: str) -> dict[str, Any]:
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AgentClientError(f"Agent at {url} sent a frame that is not JSON", kind="protocol") from None
    if not isinstance(frame, dict):
        raise AgentClientError(f"Agent at {url} sent a frame that is not a JSON object", kind="protocol")
    return frame


class _Pool:
    """Connections per (url, subset), multiplexed up to `streams` subscriptions each."""

    def __init__(self, *, size: int, streams: int) -> None:
        self.size = size
        self.streams = streams
        self.connections: dict[tuple[str, str], list[_Connection]] = {}
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def acquire(self, *, url: str, subset: str, timeout: float) -> _Connection:
        key = (url, subset)
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            live = [c for c in self.connections.get(key, []) if not c.closed]
            self.connections[key] = live
            free = [c for c in live if len(c.queues) < self.streams]
            if free:
                return min(free, key=lambda c: len(c.queues))
            if len(live) >= self.size:
                return min(live, key=lambda c: len(c.queues))
            conn = await _Connection.open(url=url, subset=subset, traceparent=None, timeout=timeout)
            live.append(conn)
            return conn

    async def close(self) -> None:
        for conns in self.connections.values():
            for conn in conns:
                await conn.close()
        self.connections.clear()


class CircuitBreaker:
    """Per agent URL: after AGENT_CIRCUIT_FAILURES consecutive transport failures, fail
    fast for AGENT_CIRCUIT_COOLDOWN seconds, then let one probe through to recover."""

    TRIPPING = frozenset({"unreachable", "closed", "protocol", "timeout"})

    def __init__(self) -> None:
        self.failures: dict[str, int] = {}
        self.open_until: dict[str, float] = {}
        self.probing: set[str] = set()

    def before_call(self, url: str) -> bool:
        """Raise when the circuit is open; True when this call is the recovery probe."""
        until = self.open_until.get(url)
        if until is None:
            return False
        if time.monotonic() < until or url in self.probing:
            raise AgentClientError(
                f"Agent at {url} is failing repeatedly; not calling it for a few seconds", kind="circuit_open"
            )
        self.probing.add(url)
        return True

    def record(self, url: str, *, ok: bool, kind: str | None = None, probe: bool = False) -> None:
        if probe:
            self.probing.discard(url)
        if ok:
            self.failures.pop(url, None)
            if self.open_until.pop(url, None) is not None:
                metrics.circuit_changed(url, is_open=False)
            return
        if kind not in self.TRIPPING:
            return
        count = self.failures.get(url, 0) + 1
        self.failures[url] = count
        if probe or count >= settings.AGENT_CIRCUIT_FAILURES:
            self.open_until[url] = time.monotonic() + settings.AGENT_CIRCUIT_COOLDOWN
            metrics.circuit_changed(url, is_open=True)
            if count == settings.AGENT_CIRCUIT_FAILURES:
                log.warning("circuit opened for agent %s after %d failures", url, count)


breaker = CircuitBreaker()

# One pool per event loop: connections cannot cross loops.
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _Pool(size=settings.AGENT_POOL_SIZE, streams=settings.AGENT_POOL_STREAMS)
        _pools[loop] = pool
    return pool


async def close_pool() -> None:
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close()


async def agent_stream(call: AgentCall, *, timeout: float | None = None) -> AsyncIterator[dict[str, Any]]:
    """Yield each AgentResult of one subscription until the agent completes.

    Each result carries its Arc `type` (null read as MESSAGE). Raises AgentClientError
    (unreachable, error frame, ERROR result, non-JSON frame, closed early, circuit open)
    or AgentTimeout when the whole exchange takes longer than `timeout` (AGENT_TIMEOUT).
    Leaving the iteration early (client gone) unsubscribes from the agent.
    """
    url = agent_url(call.address)
    with tracing.span("agent.call", agent=call.agent_name, messages=len(call.messages), subset=call.subset) as span:
        if span is not None:  # the agent continues this span's trace
            call = dataclasses.replace(call, traceparent=tracing.traceparent(call.traceparent))
        probe = breaker.before_call(url)
        try:
            async for result in _agent_stream(call, url=url, timeout=timeout):
                yield result
        except AgentTimeout:
            breaker.record(url, ok=False, kind="timeout", probe=probe)
            raise
        except AgentClientError as exc:
            breaker.record(url, ok=False, kind=exc.kind, probe=probe)
            tracing.annotate(span, error_kind=exc.kind)
            raise
        except BaseException:
            if probe:
                breaker.probing.discard(url)
            raise
        else:
            breaker.record(url, ok=True, probe=probe)


async def _agent_stream(call: AgentCall, *, url: str, timeout: float | None) -> AsyncIterator[dict[str, Any]]:
    total = settings.AGENT_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + total
    connect_timeout = min(settings.AGENT_CONNECT_TIMEOUT, total)
    dedicated = bool(call.traceparent) or settings.AGENT_POOL_SIZE == 0
    try:
        if dedicated:
            conn = await _Connection.open(
                url=url, subset=call.subset, traceparent=call.traceparent, timeout=connect_timeout
            )
        else:
            conn = await asyncio.wait_for(_pool().acquire(url=url, subset=call.subset, timeout=connect_timeout), total)
    except TimeoutError:
        raise AgentTimeout(f"Agent at {url} did not answer within {total:g} s") from None
    sub_id = uuid.uuid4().hex
    finished = False
    heard = retried = False  # a frame of this subscription arrived; it was sent again
    try:
        queue = await conn.subscribe(sub_id, call.variables())
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentTimeout(f"Agent at {url} did not answer within {total:g} s")
            try:
                frame = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                raise AgentTimeout(f"Agent at {url} did not answer within {total:g} s") from None
            if isinstance(frame, _Closed):
                if frame.shared and not heard and not retried and not dedicated:
                    # The shared connection broke (a frame that is not JSON, an early close)
                    # before this subscription heard anything: likely a neighbour's fault, so
                    # send it once more on another connection (the agent may see it twice).
                    retried = True
                    await conn.release(sub_id, cancel=False)
                    try:
                        conn = await asyncio.wait_for(
                            _pool().acquire(url=url, subset=call.subset, timeout=connect_timeout), remaining
                        )
                    except TimeoutError:
                        raise AgentTimeout(f"Agent at {url} did not answer within {total:g} s") from None
                    sub_id = uuid.uuid4().hex
                    queue = await conn.subscribe(sub_id, call.variables())
                    continue
                finished = True
                raise frame.error
            heard = True
            kind = frame["type"]
            if kind == "complete":
                finished = True
                return
            if kind == "error":
                finished = True
                raise AgentClientError(
                    f"Agent at {url} returned an error: {_error_text(frame.get('payload'))}", kind="error_frame"
                )
            result = _agent_result(frame, url)
            if result is not None:
                yield result
    finally:
        await conn.release(sub_id, cancel=not finished)
        if dedicated:
            await conn.close()


def _agent_result(frame: dict[str, Any], url: str) -> dict[str, Any] | None:
    payload = frame.get("payload")
    if not isinstance(payload, dict):
        raise AgentClientError(f"Agent at {url} sent a 'next' frame without a payload", kind="protocol")
    if payload.get("errors") and not payload.get("data"):
        raise AgentClientError(
            f"Agent at {url} returned an error: {_error_text(payload['errors'])}", kind="error_frame"
        )
    data = payload.get("data")
    result = data.get("agent") if isinstance(data, dict) else None
    if result is None:
        return None
    if not isinstance(result, dict):
        raise AgentClientError(f"Agent at {url} sent a malformed AgentResult", kind="protocol")
    messages = result.get("messages") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise AgentClientError(f"Agent at {url} sent malformed messages", kind="protocol")
    kind = result.get("type") or MESSAGE
    if kind not in RESULT_TYPES:
        log.warning("agent at %s sent an AgentResult of unknown type %r, read as MESSAGE", url, kind)
        kind = MESSAGE
    if kind == ERROR:
        text = "; ".join(str(m.get("content") or "") for m in messages if m.get("content"))[:500]
        log.info("agent at %s returned an ERROR result: %s", url, text)
        raise AgentClientError(text or f"Agent at {url} returned an error", kind="error_result")
    return {**result, "type": kind}


@dataclass
class AgentReply:
    """One subscription's results read by their Arc type.

    The answer is the first message of the first MESSAGE result that has messages. An agent
    that completes having sent only INTERMEDIATE_MESSAGE results answers with the last
    intermediate message. `messages` holds every MESSAGE and INTERMEDIATE_MESSAGE message in
    order, each marked with its `type`; EVENT results go to `events` (at most MAX_EVENTS,
    each cut to MAX_EVENT_CHARS, with `afterMessages`: how many messages came before it),
    never to the messages. ERROR results never get here:
    `agent_stream` raises for them.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    first_message: dict[str, Any] | None = None
    last_intermediate: dict[str, Any] | None = None

    def add(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Take one AgentResult from `agent_stream`; returns the items it adds, in order."""
        kind = result.get("type") or MESSAGE
        if kind == EVENT:
            if len(self.events) >= MAX_EVENTS:
                return []
            event = _event_record(result, after=len(self.messages))
            self.events.append(event)
            return [event]
        entities = result.get("anonymizationEntities")
        items = [
            {"type": kind, "content": m.get("content") or "", "anonymizationEntities": entities}
            for m in result.get("messages") or []
        ]
        self.messages.extend(items)
        if items and kind == MESSAGE and self.first_message is None:
            self.first_message = items[0]
        elif items and kind == INTERMEDIATE_MESSAGE:
            self.last_intermediate = items[-1]
        return items

    @property
    def answer(self) -> dict[str, Any] | None:
        """{content, anonymizationEntities} of the answer, None when the agent sent no message."""
        chosen = self.first_message or self.last_intermediate
        if chosen is None:
            return None
        return {"content": chosen["content"], "anonymizationEntities": chosen["anonymizationEntities"]}


def _event_record(result: dict[str, Any], *, after: int) -> dict[str, Any]:
    """An EVENT result as stored: its messages and context, cut to MAX_EVENT_CHARS."""
    messages = [
        {k: m.get(k) for k in ("role", "content", "format") if m.get(k) is not None}
        for m in result.get("messages") or []
    ]
    record = {"type": EVENT, "messages": messages, "context": result.get("context") or [], "afterMessages": after}
    if len(json.dumps(record, ensure_ascii=False)) <= MAX_EVENT_CHARS:
        return record
    preview = json.dumps({"messages": messages, "context": record["context"]}, ensure_ascii=False)[:MAX_EVENT_CHARS]
    while True:  # escaping makes the stored preview longer than its text: cut until it fits
        record = {"type": EVENT, "truncated": True, "preview": preview, "afterMessages": after}
        over = len(json.dumps(record, ensure_ascii=False)) - MAX_EVENT_CHARS
        if over <= 0:
            return record
        preview = preview[: len(preview) - max(1, over // 2)]


def _error_text(payload: Any) -> str:
    if isinstance(payload, list):
        texts = [str(p.get("message", p)) if isinstance(p, dict) else str(p) for p in payload]
        return "; ".join(texts)[:500] or "unknown error"
    if isinstance(payload, dict):
        return str(payload.get("message", payload))[:500]
    return str(payload)[:500] or "unknown error"
