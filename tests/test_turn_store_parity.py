"""The turn store's two backends store the same rows: the same scenarios run through the
conversation service once on the ORM backend and once on the PostgreSQL statement
backend, and the turns, conversations and routing decisions they leave are compared.

The PostgreSQL backend needs PostgreSQL (the ORM backend runs there too), so on the
embedded SQLite default this module is skipped; CI runs the suite on both.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from agents.models import Tenant
from conversations import turns
from conversations.models import Conversation, Instance, Turn
from conversations.services import TurnInput, conversation_turn
from core import errors, pg
from routing.models import RoutingDecision
from tests.factories import make_registry
from tests.support import agents
from tests.support.arc_server import SendError, agent_result

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not pg.available(),
        reason="turn-store parity needs PostgreSQL (DATABASE_URL=postgres://...): the pg backend cannot run on SQLite",
    ),
]

BACKENDS = ("orm", "pg")


def _turn_in(backend: str, conversation: str, turn: str, content: str, **more: Any) -> TurnInput:
    body = {"inputContext": {"messages": [{"role": "user", "content": content}]}, "more": more}
    return TurnInput(
        tenant_id="acme",
        conversation_id=f"{backend}-{conversation}",
        turn_id=turn,
        subset="stable",
        channel_id="web",
        messages=[{"role": "user", "format": "text", "content": content}],
        user_id="user456",
        body=body,
        **more,
    )


async def _send(turn_in: TurnInput) -> dict[str, Any]:
    """What the client sees of one turn."""
    try:
        outcome = await conversation_turn(turn_in=turn_in)
    except errors.RuntimeApiError as exc:
        return {"error": exc.error_code, "message": exc.message.replace(turn_in.conversation_id, "C")}
    return {
        "answer": outcome.answer,
        "agent": outcome.agent,
        "strategy": outcome.strategy,
        "replayed": outcome.replayed,
    }


def _orphan(turn_in: TurnInput, *, lease_seconds: float) -> str:
    """A pending turn as another web process left it, that process's lease ending in
    `lease_seconds`; returns that process's instance id."""
    owner = f"other-process-{turn_in.conversation_id}"
    Instance.objects.create(instance_id=owner, lease_until=timezone.now() + timedelta(seconds=lease_seconds))
    tenant = Tenant.objects.get(tenant_id=turn_in.tenant_id)
    conversation = Conversation.objects.create(
        tenant=tenant, conversation_id=turn_in.conversation_id, channel_id=turn_in.channel_id, user_id=turn_in.user_id
    )
    Turn.objects.create(
        tenant=tenant,
        conversation=conversation,
        turn_id=turn_in.turn_id,
        request_hash=turn_in.request_hash,
        channel_id=turn_in.channel_id,
        messages=turn_in.messages,
        owner=owner,
    )
    return owner


def flaky_once():
    """Fails a turn's first call with an error frame, answers the retry."""
    seen: set[tuple[str, str]] = set()

    async def behaviour(request, headers):
        context = request["request"]["conversationContext"]
        turn = (context["conversationId"], context["turnId"])
        if turn not in seen:
            seen.add(turn)
            yield SendError("not yet")
            return
        yield agent_result("second time lucky")

    return behaviour


async def _scenarios(backend: str, servers: dict[str, Any]) -> list[Any]:
    """Every case of the idempotent turn, on one backend; returns what the clients saw."""
    seen: list[Any] = []
    with turns.using_backend(backend):
        # A new turn, then a second turn of the same conversation (history, current agent).
        seen.append(await _send(_turn_in(backend, "new", "t1", "why is my bill so high", explicit_agent="billing")))
        seen.append(await _send(_turn_in(backend, "new", "t2", "and the one before?")))
        # Replay: the same turn again is answered from the store.
        seen.append(await _send(_turn_in(backend, "new", "t1", "why is my bill so high", explicit_agent="billing")))
        # Conflict: the same turn id with another body.
        seen.append(await _send(_turn_in(backend, "new", "t1", "something else entirely")))
        # Retry of a failed turn: the first attempt fails, the retry runs again and completes.
        seen.append(await _send(_turn_in(backend, "retry", "t1", "try me", explicit_agent="flaky")))
        seen.append(await _send(_turn_in(backend, "retry", "t1", "try me", explicit_agent="flaky")))
        # Concurrent duplicates: the first runs, the others wait and get its answer.
        duplicates = await asyncio.gather(
            *(_send(_turn_in(backend, "dup", "t1", "slowly please", explicit_agent="slow")) for _ in range(3))
        )
        seen.append(sorted((d["replayed"], d["answer"]["content"]) for d in duplicates))
        # No agent: an explicit agent that is not installed.
        seen.append(await _send(_turn_in(backend, "none", "t1", "hello", explicit_agent="ghost")))
        # The vector router on a new conversation (candidates, scores, confidence stored).
        seen.append(await _send(_turn_in(backend, "routed", "t1", "what will the weather be on mars tomorrow")))
        # Takeover: a pending turn whose owner died (its lease lapsed) is run by its retry.
        dead = _turn_in(backend, "dead", "t1", "are you there", explicit_agent="billing")
        await sync_to_async(_orphan)(dead, lease_seconds=-1)
        seen.append(await _send(dead))
        # A live owner is waited for; once its lease lapses, the waiter takes over.
        live = _turn_in(backend, "live", "t1", "still there", explicit_agent="billing")
        owner = await sync_to_async(_orphan)(live, lease_seconds=60)
        waiting = asyncio.create_task(_send(live))
        await asyncio.sleep(0.6)
        seen.append(("waited", not waiting.done()))
        await Instance.objects.filter(instance_id=owner).aupdate(lease_until=timezone.now() - timedelta(seconds=1))
        seen.append(await waiting)
        # Agent error: the agent answers with an error frame.
        seen.append(await _send(_turn_in(backend, "error", "t1", "break", explicit_agent="broken")))
        # Typed Arc results: an intermediate message and an event stored with the turn, then replayed.
        seen.append(await _send(_turn_in(backend, "typed", "t1", "my invoice", explicit_agent="eventful")))
        seen.append(await _send(_turn_in(backend, "typed", "t1", "my invoice", explicit_agent="eventful")))
    seen.append({name: len(server.received) for name, server in servers.items()})
    for server in servers.values():
        server.received.clear()
    return seen


def _stored(backend: str) -> dict[str, Any]:
    """Every row the scenarios left, without ids, times and the backend's prefix."""
    prefix = f"{backend}-"

    def strip(value: str) -> str:
        return value.replace(prefix, "")

    conversations = {}
    for conversation in Conversation.objects.filter(conversation_id__startswith=prefix).order_by("conversation_id"):
        turns_of = []
        for turn in Turn.objects.filter(conversation=conversation).order_by("turn_id"):
            assert turn.latency_ms is not None and turn.completed_at is not None
            decisions = [
                {
                    "conversation_id": strip(d.conversation_id),
                    "channel_id": d.channel_id,
                    "subset": d.subset,
                    "strategy": d.strategy,
                    "chosen_agent": d.chosen_agent,
                    "candidates": d.candidates,
                    "reason": d.reason,
                    "fallback": d.fallback,
                    "confidence": d.confidence,
                    "relevance": d.relevance,
                    "registry_version": d.registry_version,
                    "tenant": d.tenant_id,
                }
                for d in RoutingDecision.objects.filter(turn=turn).order_by("id")
            ]
            turns_of.append(
                {
                    "turn_id": turn.turn_id,
                    "tenant": turn.tenant_id,
                    "request_hash": turn.request_hash,
                    "channel_id": turn.channel_id,
                    "subset": turn.subset,
                    "messages": turn.messages,
                    "request": turn.request,
                    "status": turn.status,
                    "agent_name": turn.agent_name,
                    "routing_strategy": turn.routing_strategy,
                    "answer": turn.answer,
                    "agent_messages": turn.agent_messages,
                    "agent_events": turn.agent_events,
                    "error_code": turn.error_code,
                    "error_message": strip(turn.error_message),
                    "attempts": turn.attempts,
                    "owner": "this process" if turn.owner == turns.instance_id() else turn.owner.replace(prefix, ""),
                    "started_after_created": turn.started_at >= turn.created_at,
                    "decisions": decisions,
                }
            )
        conversations[strip(conversation.conversation_id)] = {
            "tenant": conversation.tenant_id,
            "channel_id": conversation.channel_id,
            "subset": conversation.subset,
            "user_id": conversation.user_id,
            "current_agent": conversation.current_agent,
            "turns": turns_of,
        }
    return conversations


async def test_both_backends_store_the_same_rows_for_every_turn_scenario(arc_agent):
    servers = {
        "billing": await arc_agent(agents.echo("billing: ")),
        "flaky": await arc_agent(flaky_once()),
        "slow": await arc_agent(agents.echo("slow: ", delay=0.3)),
        "broken": await arc_agent(agents.error_frame("agent exploded")),
        "eventful": await arc_agent(agents.working_then_answer("Your invoice is 48.90 EUR.")),
    }
    await sync_to_async(make_registry)("acme", "web", "stable", {n: s.address for n, s in servers.items()})

    seen = {backend: await _scenarios(backend, servers) for backend in BACKENDS}
    stored = {backend: await sync_to_async(_stored)(backend) for backend in BACKENDS}

    assert seen["orm"] == seen["pg"]
    assert stored["orm"] == stored["pg"]
    # The scenarios did what they say (on both, since both are equal).
    rows = stored["pg"]
    assert seen["pg"][2]["replayed"] and seen["pg"][3]["error"] == "TURN_CONFLICT"
    assert [t["status"] for t in rows["new"]["turns"]] == ["completed", "completed"]
    assert rows["new"]["current_agent"] == "billing"
    assert rows["retry"]["turns"][0]["status"] == "completed" and rows["retry"]["turns"][0]["attempts"] == 2
    assert len(rows["retry"]["turns"][0]["decisions"]) == 2
    slow = "slow: slowly please"
    assert seen["pg"][6] == [(False, slow), (True, slow), (True, slow)]
    assert seen["pg"][-1] == {"billing": 4, "flaky": 2, "slow": 1, "broken": 1, "eventful": 1}
    assert [(t["status"], t["attempts"], t["owner"]) for t in rows["dead"]["turns"] + rows["live"]["turns"]] == [
        ("completed", 2, "this process"),
        ("completed", 2, "this process"),
    ]
    assert ("waited", True) in seen["pg"]
    ghost = rows["none"]["turns"][0]
    assert ghost["status"] == "failed" and ghost["error_code"] == "AGENT_NOT_FOUND"
    assert [d["chosen_agent"] for d in ghost["decisions"]] == [""]
    assert [len(t["decisions"]) for t in rows["routed"]["turns"]] == [1]
    broken = rows["error"]["turns"][0]
    assert broken["error_code"] == "AGENT_CLIENT_EXCEPTION" and broken["decisions"][0]["chosen_agent"] == "broken"
    typed = rows["typed"]["turns"][0]
    assert [m["type"] for m in typed["agent_messages"]] == ["INTERMEDIATE_MESSAGE", "MESSAGE"]
    assert [e["type"] for e in typed["agent_events"]] == ["EVENT"]
    assert seen["pg"][-2]["replayed"] and seen["pg"][-2]["answer"]["content"] == "Your invoice is 48.90 EUR."
