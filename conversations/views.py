"""The chat API (LMOS contract). Views only translate HTTP to service calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from agents.auth import api_key_authorize
from agents.models import Agent, Channel
from conversations.api import api_errors, check_id, turn_input
from conversations.limits import inflight_acquire, inflight_release, inflight_slot, rate_limit_check
from conversations.selectors import conversation_history
from conversations.services import TurnEvent, conversation_turn, conversation_turn_events
from core import errors
from core.db import db


@api_errors("POST")
async def chat_message(request: HttpRequest, tenant_id: str, conversation_id: str) -> HttpResponse:
    turn_in = turn_input(request, tenant_id, conversation_id)
    await rate_limit_check(tenant_id=tenant_id)
    with inflight_slot():
        outcome = await conversation_turn(turn_in=turn_in)
    response = JsonResponse(outcome.answer)
    response["x-agent-name"] = outcome.agent
    response["x-routing-strategy"] = outcome.strategy
    if outcome.confidence is not None:
        response["x-routing-confidence"] = f"{outcome.confidence:.3f}"
    response["x-turn-id"] = outcome.turn_id
    return response


def _flag(request: HttpRequest, name: str) -> bool:
    value = request.GET.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise errors.InvalidRequest(f"Query parameter {name} must be true or false")
    return value in ("true", "1")


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@api_errors("POST")
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


async def _is_staff(request: HttpRequest) -> bool:
    user = await request.auser()
    return bool(user and user.is_active and user.is_staff)


@api_errors("GET")
async def history(request: HttpRequest, tenant_id: str, conversation_id: str) -> HttpResponse:
    check_id(tenant_id, "tenantId")
    check_id(conversation_id, "conversationId")
    # Conversations are personal data: always a tenant key (or an admin session).
    if not await _is_staff(request):
        await db(api_key_authorize)(tenant_id=tenant_id, authorization=request.headers.get("Authorization"))
    return JsonResponse(await db(conversation_history)(tenant_id=tenant_id, conversation_id=conversation_id))


def _agents_payload(tenant_id: str, channel_id: str | None, subset: str) -> dict:
    channels = Channel.objects.filter(tenant__tenant_id=tenant_id, subset=subset, active=True)
    if channel_id:
        channels = channels.filter(channel_id=channel_id)
    agents = (
        Agent.objects.filter(channel__in=channels, active=True)
        .select_related("channel")
        .prefetch_related("capabilities")
        .order_by("name")
    )
    seen: dict[str, dict] = {}
    for agent in agents:
        if agent.name in seen:
            continue
        seen[agent.name] = {
            "id": agent.agent_id or agent.name,
            "name": agent.name,
            "version": agent.channel.version if agent.channel_id else "",
            "description": agent.description,
            "capabilities": [
                {
                    "id": c.capability_id or c.name,
                    "name": c.name,
                    "version": c.provided_version,
                    "description": c.description,
                }
                for c in agent.capabilities.all()
            ],
        }
    return {"subset": subset, "agents": list(seen.values())}


@api_errors("GET")
async def agents(request: HttpRequest) -> HttpResponse:
    tenant_id = check_id(request.GET.get("tenantId"), "tenantId")
    channel_id = request.GET.get("channelId")
    if channel_id is not None:
        check_id(channel_id, "channelId")
    subset = request.GET.get("subset", request.headers.get("x-subset") or "stable")
    check_id(subset, "subset")
    if settings.REQUIRE_API_KEYS and not await _is_staff(request):
        await db(api_key_authorize)(tenant_id=tenant_id, authorization=request.headers.get("Authorization"))
    return JsonResponse(await db(_agents_payload)(tenant_id, channel_id, subset))


async def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return errors.error_response(errors.NotFound(f"No API endpoint at {request.path}"))
