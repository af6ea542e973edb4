"""The runtime as an Arc agent: graphql-transport-ws at /subscriptions.

Arc clients (and Arc View) talk to the runtime as if it were one agent. Each subscription
is parsed and validated against the Arc schema (agents/arc_schema.py) and executed with
graphql-core, so a `next` frame holds exactly the selected fields; a query that does not
parse, selects an unknown field or passes a bad variable gets an `error` frame naming the
problem. Tenant, channel and subset come from the request's `systemContext` entries
`tenantId`, `channelId` and `subset`; conversation and turn from `conversationContext`; a
non-null `agentName` names an explicit agent. Each agent message is one `next` frame whose
`type` is the Arc type the agent sent (MESSAGE, INTERMEDIATE_MESSAGE, EVENT); an agent's
ERROR result fails the turn and is an `error` frame. Several subscriptions on one socket
run concurrently; a `complete` from the client, or the client leaving, cancels its turn
(stored as cancelled) and the agent call.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from graphql import ExecutionResult, GraphQLError, GraphQLResolveInfo, subscribe

from agents.arc_schema import GraphQLErrors, arc_schema, subscription_document
from agents.client import EVENT, INTERMEDIATE_MESSAGE, MESSAGE
from conversations.api import check_id, validated_turn_input
from conversations.limits import inflight_slot, rate_limit_check
from conversations.services import TurnEvent, conversation_turn_events
from core import errors

log = logging.getLogger("conversations.websocket")

SUBPROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT = 10.0


def _entries(items: Any) -> dict[str, str]:
    """[{key, value}] → {key: value} (an object is accepted too)."""
    if isinstance(items, dict):
        return {str(k): v for k, v in items.items()}
    if isinstance(items, list):
        return {str(i.get("key")): i.get("value") for i in items if isinstance(i, dict) and "key" in i}
    return {}


def _body_from_arc(request: dict[str, Any], agent_name: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The Arc AgentRequest as the LMOS chat body, plus the routing keys from systemContext."""
    system = _entries(request.get("systemContext"))
    keys = {k: system.pop(k, None) for k in ("tenantId", "channelId", "subset")}
    conversation = request.get("conversationContext") or {}
    user = request.get("userContext") or {}
    body = {
        "inputContext": {
            "messages": request.get("messages") or [],
            "explicitAgent": agent_name,
            "anonymizationEntities": conversation.get("anonymizationEntities") or [],
        },
        "systemContext": {
            "channelId": keys["channelId"],
            "contextParams": [{"key": k, "value": v} for k, v in system.items()],
        },
        "userContext": {
            "userId": user.get("userId"),
            "userToken": user.get("userToken"),
            "contextParams": user.get("profile") or [],
        },
    }
    keys["conversationId"] = conversation.get("conversationId")
    keys["turnId"] = conversation.get("turnId")
    return body, keys


_RESULT_TYPES = {"message": MESSAGE, "intermediate": INTERMEDIATE_MESSAGE, "agent-event": EVENT}


def _entry_list(items: Any) -> list[dict[str, str]]:
    return [
        {"key": str(i["key"]), "value": str(i.get("value"))}
        for i in items or []
        if isinstance(i, dict) and i.get("key") is not None
    ]


def _agent_result(event: TurnEvent, started: float) -> dict[str, Any]:
    """A turn event as an Arc AgentResult (graphql-core then keeps the selected fields)."""
    item = event.message or {}
    if event.kind == "agent-event":
        messages = item.get("messages") or ([{"content": item["preview"]}] if item.get("preview") else [])
        entities, context = [], _entry_list(item.get("context"))
    else:
        messages = [item]
        entities, context = item.get("anonymizationEntities") or [], []
    return {
        "status": "ONLINE",
        "type": _RESULT_TYPES[event.kind],
        "responseTime": round(time.perf_counter() - started, 3),
        "messages": [
            {
                "content": str(m.get("content") or ""),
                "format": m.get("format") or "text",
                "role": m.get("role") or "assistant",
            }
            for m in messages
        ],
        "anonymizationEntities": entities,
        "context": context,
        "toolCalls": [],
    }


class ArcConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.initialised = False
        self.authorization: str | None = None
        self.subscriptions: dict[str, asyncio.Task] = {}
        headers = {k.decode().lower(): v.decode() for k, v in self.scope.get("headers", [])}
        origin = headers.get("origin")
        allowed = settings.CORS_ALLOWED_ORIGINS_RAW
        # Arc's own client sends no Origin; browsers do, and are checked.
        if origin and "*" not in allowed and origin not in allowed:
            await self.close(code=4403)
            return
        self.subset_header = headers.get("x-subset")
        subprotocols = self.scope.get("subprotocols") or []
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in subprotocols else None)
        self.init_timer = asyncio.get_running_loop().call_later(INIT_TIMEOUT, self._init_timeout)

    def _init_timeout(self) -> None:
        if not self.initialised:
            self.closer = asyncio.ensure_future(self.close(code=4408))

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "init_timer", None)
        if timer is not None:
            timer.cancel()
        tasks = list(getattr(self, "subscriptions", {}).values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data if text_data is not None else (bytes_data or b"").decode())
            if not isinstance(frame, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            await self.close(code=4400)
            return
        kind = frame.get("type")
        if kind == "connection_init":
            if self.initialised:
                await self.close(code=4429)  # "Too many initialisation requests"
                return
            payload = frame.get("payload") or {}
            self.authorization = payload.get("Authorization") or payload.get("authorization")
            self.initialised = True
            await self.send_json({"type": "connection_ack"})
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "pong":
            return
        elif kind == "subscribe":
            if not self.initialised:
                await self.close(code=4401)
                return
            sub_id = frame.get("id")
            if not isinstance(sub_id, str) or not sub_id:
                await self.close(code=4400)
                return
            if sub_id in self.subscriptions:
                await self.close(code=4409)  # "Subscriber for <id> already exists"
                return
            self.subscriptions[sub_id] = asyncio.create_task(self._run(sub_id, frame.get("payload") or {}))
        elif kind == "complete":
            task = self.subscriptions.pop(frame.get("id"), None)
            if task is not None:
                task.cancel()
        else:
            await self.close(code=4400)

    async def _run(self, sub_id: str, payload: dict[str, Any]) -> None:
        try:
            document = subscription_document(payload.get("query"), payload.get("operationName"))
            variables = payload.get("variables") or {}
            if not isinstance(variables, dict):
                raise GraphQLErrors([GraphQLError("variables must be a JSON object")])
            stream = subscribe(
                arc_schema(),
                document,
                variable_values=variables,
                operation_name=payload.get("operationName"),
                subscribe_field_resolver=self._agent_source,
            )
            if inspect.isawaitable(stream):
                stream = await stream
            if isinstance(stream, ExecutionResult):  # variables that do not fit the schema
                raise GraphQLErrors(list(stream.errors or []))
            async with contextlib.aclosing(stream):
                async for result in stream:
                    await self.send_json({"type": "next", "id": sub_id, "payload": result.formatted})
            await self.send_json({"type": "complete", "id": sub_id})
        except GraphQLErrors as exc:
            invalid = {"errorCode": errors.InvalidRequest.error_code}
            await self._send_frame(sub_id, [{**e.formatted, "extensions": invalid} for e in exc.errors])
        except errors.RuntimeApiError as exc:
            await self._send_error(sub_id, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._send_error(sub_id, errors.unexpected_error(exc))
        finally:
            self.subscriptions.pop(sub_id, None)

    def _agent_source(
        self, root: Any, info: GraphQLResolveInfo, request: dict[str, Any], agentName: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        return self._agent_results(request, agentName)

    async def _agent_results(self, request: dict[str, Any], agent_name: str | None) -> AsyncIterator[dict[str, Any]]:
        """The turn for one Arc request, as source events of the `agent` subscription field."""
        started = time.perf_counter()
        body, keys = _body_from_arc(request, agent_name)
        turn_in = validated_turn_input(
            body,
            tenant_id=check_id(keys["tenantId"], "systemContext tenantId"),
            conversation_id=check_id(keys["conversationId"], "conversationContext.conversationId"),
            turn_id=check_id(keys["turnId"] or uuid.uuid4().hex, "conversationContext.turnId"),
            subset=check_id(keys["subset"] or self.subset_header or "stable", "subset"),
            authorization=self.authorization,
        )
        await rate_limit_check(tenant_id=turn_in.tenant_id)
        with inflight_slot():
            async with contextlib.aclosing(conversation_turn_events(turn_in=turn_in)) as events:
                async for event in events:
                    if event.kind in _RESULT_TYPES:
                        yield {"agent": _agent_result(event, started)}

    async def _send_error(self, sub_id: str, exc: errors.RuntimeApiError) -> None:
        await self._send_frame(sub_id, [{"message": exc.message, "extensions": {"errorCode": exc.error_code}}])

    async def _send_frame(self, sub_id: str, payload: list[dict[str, Any]]) -> None:
        with contextlib.suppress(Exception):
            await self.send_json({"type": "error", "id": sub_id, "payload": payload})
