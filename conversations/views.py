"""The chat API (LMOS contract). Views only translate HTTP to service calls; each declares
its contract with `core.api.endpoint` (see "Adding an endpoint" in docs/operations.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from agents.api import is_staff
from agents.auth import api_key_authorize
from conversations.api import check_id, turn_input
from conversations.dry_run import conversation_route_dry_run
from conversations.limits import inflight_acquire, inflight_release, inflight_slot, rate_limit_check
from conversations.schema import CHAT_ERRORS, CHAT_HEADERS
from conversations.selectors import conversation_history
from conversations.serializers import (
    ChatRequestSerializer,
    ChatResponseSerializer,
    ConversationHistorySerializer,
    RouteDecisionSerializer,
)
from conversations.services import TurnEvent, conversation_turn, conversation_turn_events
from core import errors
from core.api import AUTH, Answer, endpoint, error
from core.db import db
from core.ids import ID_PATTERN


@endpoint(
    "POST",
    summary="Send a user message; the routed agent's answer",
    description=(
        "The answer is the agent's first MESSAGE result (Arc type MESSAGE or null); an agent that completes"
        " having sent only INTERMEDIATE_MESSAGE results answers with the last one. An ERROR result is a 502"
        " AGENT_CLIENT_EXCEPTION with the agent's message."
    ),
    request=ChatRequestSerializer,
    parameters=CHAT_HEADERS,
    responses={200: ChatResponseSerializer, **CHAT_ERRORS},
    fast=True,
)
async def chat_message(request: HttpRequest, tenant_id: str, conversation_id: str) -> Answer:
    turn_in = turn_input(request, tenant_id, conversation_id)
    await rate_limit_check(tenant_id=tenant_id)
    with inflight_slot():
        outcome = await conversation_turn(turn_in=turn_in)
    headers = {"x-agent-name": outcome.agent, "x-routing-strategy": outcome.strategy}
    if outcome.confidence is not None:
        headers["x-routing-confidence"] = f"{outcome.confidence:.3f}"
    headers["x-turn-id"] = outcome.turn_id
    return Answer(outcome.answer, headers)


def _flag(request: HttpRequest, name: str) -> bool:
    value = request.GET.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise errors.InvalidRequest(f"Query parameter {name} must be true or false")
    return value in ("true", "1")


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@endpoint(
    "POST",
    summary="Send a user message; every agent message as Server-Sent Events",
    description=(
        "`event: message` per agent message (Arc type MESSAGE), `event: intermediate` per intermediate"
        " message (INTERMEDIATE_MESSAGE), `event: agent-event` per agent EVENT result only with"
        " `agentEvents=true`, then `event: done` or `event: error`."
    ),
    request=ChatRequestSerializer,
    parameters=[
        *CHAT_HEADERS,
        OpenApiParameter(
            "agentEvents",
            OpenApiTypes.BOOL,
            OpenApiParameter.QUERY,
            description="Also stream the agent's EVENT results as `event: agent-event` (default false)",
        ),
    ],
    responses={(200, "text/event-stream"): OpenApiTypes.STR, **CHAT_ERRORS},
    fast=True,
)
async def chat_stream(request: HttpRequest, tenant_id: str, conversation_id: str) -> HttpResponse:
    """The same turn as `chat_message`, answered as Server-Sent Events.

    `event: message` per agent message, `event: intermediate` per intermediate message,
    `event: agent-event` per agent event only with `?agentEvents=true`, then `event: done`.
    Failures before the first agent message (bad request, no agent, agent down) are plain
    JSON errors with their status; a failure after it is an `event: error`.
    """
    with_events = _flag(request, "agentEvents")
    turn_in = turn_input(request, tenant_id, conversation_id)
    await rate_limit_check(tenant_id=tenant_id)
    inflight_acquire()
    events = conversation_turn_events(turn_in=turn_in)
    try:
        first = await anext(events)
    except BaseException:
        inflight_release()
        raise

    async def stream(first: TurnEvent) -> AsyncIterator[str]:
        event: TurnEvent | None = first
        try:
            while event is not None:
                if event.kind in ("message", "intermediate") or (event.kind == "agent-event" and with_events):
                    yield _sse(event.kind, event.message or {})
                elif event.kind == "done":
                    outcome = event.outcome
                    yield _sse(
                        "done", {"agent": outcome.agent, "turnId": outcome.turn_id, "routingStrategy": outcome.strategy}
                    )
                event = await anext(events, None)
        except errors.RuntimeApiError as exc:
            yield _sse("error", exc.as_dict())
        except Exception as exc:
            yield _sse("error", errors.unexpected_error(exc).as_dict())
        finally:
            inflight_release()
            await events.aclose()

    response = StreamingHttpResponse(stream(first), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    response["x-turn-id"] = turn_in.turn_id
    return response


@endpoint(
    "POST",
    summary="Dry run: where this chat request would be routed, without calling the agent",
    description=(
        "Takes the chat request (body and headers) and routes it as a turn would: explicit agent, the"
        " strategy, follow-ups with the stored conversation's current agent and history, the channel's"
        " fallback agent, clarification. Calls no agent and stores no turn and no decision. When the router"
        " finds no agent, the answer is 200 with `agent: null` and the router's reason and candidates;"
        " 404 is left for an unknown explicit agent or a channel without agents."
    ),
    request=ChatRequestSerializer,
    parameters=[
        *CHAT_HEADERS,
        OpenApiParameter(
            "conversationId",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            pattern=ID_PATTERN,
            description="The stored conversation whose current agent and history follow-ups use (default: none)",
        ),
    ],
    # No turn is stored and no agent called: no 409, 502 or 504.
    responses={200: RouteDecisionSerializer, **{k: v for k, v in CHAT_ERRORS.items() if k not in (409, 502, 504)}},
    fast=True,
)
async def route(request: HttpRequest, tenant_id: str) -> dict:
    turn_in = turn_input(request, tenant_id, request.GET.get("conversationId"))
    await rate_limit_check(tenant_id=tenant_id)
    with inflight_slot():
        decision = await conversation_route_dry_run(turn_in=turn_in)
    return {
        "agent": decision.agent or None,
        "strategy": decision.strategy,
        "confidence": decision.confidence,
        "reason": decision.reason,
        "candidates": [candidate.as_dict() for candidate in decision.candidates],
    }


@endpoint(
    "GET",
    summary="A conversation's turns (needs the tenant's API key)",
    parameters=[AUTH],
    responses={
        200: ConversationHistorySerializer,
        400: error("Invalid id"),
        401: error("Missing or unknown API key"),
        403: error("API key of another tenant"),
        404: error("Unknown conversation"),
    },
)
async def history(request: HttpRequest, tenant_id: str, conversation_id: str) -> dict:
    check_id(tenant_id, "tenantId")
    check_id(conversation_id, "conversationId")
    # Conversations are personal data: always a tenant key (or an admin session).
    if not await is_staff(request):
        await db(api_key_authorize)(tenant_id=tenant_id, authorization=request.headers.get("Authorization"))
    return await db(conversation_history)(tenant_id=tenant_id, conversation_id=conversation_id)


async def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return errors.error_response(errors.NotFound(f"No API endpoint at {request.path}"))


not_found.fast_path = True  # type: ignore[attr-defined]
