"""The conversation service: one turn from request to stored answer.

registry lookup → router → agent call → persist Turn, RoutingDecision, Conversation.

Idempotency is settled in the database: (conversation, turn id) is unique, and the first
request inserts a pending row. A retry of a completed turn replays the stored answer; a
concurrent duplicate waits for the pending row to settle; a retry of a failed turn claims
it again with a conditional UPDATE that exactly one request wins.

Database work happens in short synchronous blocks run in a thread, each closing its
connection, so no connection is held while the agent (or an LLM) is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.auth import api_key_authorize
from agents.client import EVENT, INTERMEDIATE_MESSAGE, AgentCall, AgentReply, agent_stream
from agents.models import Tenant
from agents.selectors import channel_registry, channel_registry_cached, registry_for_turn
from agents.services import registry_note_traffic
from agents.specs import AgentSpec, ChannelRegistry
from conversations import pg_turns
from conversations.models import Conversation, Turn
from core import errors, metrics, pg
from core.db import db
from routing.base import Decision, RouteRequest
from routing.services import decision_fields, decision_row, route_query

log = logging.getLogger("conversations.turn")

T = TypeVar("T")

HISTORY_TURNS = 10
_ERRORS_BY_CODE: dict[str, type[errors.RuntimeApiError]] = {
    cls.error_code: cls
    for cls in (
        errors.AgentNotFound,
        errors.AgentClientError,
        errors.AgentTimeout,
        errors.RegistryUnavailable,
        errors.Overloaded,
        errors.RuntimeApiError,
    )
}


@dataclass
class TurnInput:
    """One validated chat request."""

    tenant_id: str
    conversation_id: str
    turn_id: str
    subset: str
    channel_id: str
    messages: list[dict[str, Any]]
    user_id: str
    explicit_agent: str | None = None
    anonymization_entities: list[dict[str, Any]] = field(default_factory=list)
    system_params: list[dict[str, str]] = field(default_factory=list)
    user_token: str | None = None
    user_params: list[dict[str, str]] = field(default_factory=list)
    traceparent: str | None = None
    authorization: str | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def request_hash(self) -> str:
        canonical = json.dumps({"body": self.body, "subset": self.subset}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def query(self) -> str:
        return self.messages[-1]["content"]


@dataclass
class TurnOutcome:
    answer: dict[str, Any]  # {"content", "anonymizationEntities"}
    agent: str
    strategy: str
    turn_id: str
    replayed: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # every agent message, marked with its type
    confidence: float | None = None  # the routing decision's (not kept for a replay)
    events: list[dict[str, Any]] = field(default_factory=list)  # the agent's EVENT results


@dataclass
class _Claim:
    """What the first database block decided."""

    action: str  # proceed | replay | wait
    tenant: Tenant
    turn_pk: int
    conversation_pk: int
    conversation_id: str = ""
    current_agent: str = ""
    history: list[dict[str, str]] = field(default_factory=list)
    stored: dict[str, Any] = field(default_factory=dict)
    # Read in the same database block when already known (saves a round trip per turn).
    registry: ChannelRegistry | None = None


def _stale_after() -> timedelta:
    # Longer than any attempt can take: registry fetch + routing (LLM) + the agent.
    return timedelta(
        seconds=settings.AGENT_TIMEOUT + settings.AGENT_REGISTRY_TIMEOUT + 2 * settings.OPENAI_API_TIMEOUT + 30
    )


def _stored_result(turn: Turn) -> dict[str, Any]:
    return {
        "status": turn.status,
        "answer": turn.answer,
        "agent": turn.agent_name,
        "strategy": turn.routing_strategy,
        "error_code": turn.error_code,
        "error_message": turn.error_message,
        "agent_messages": turn.agent_messages,
    }


def _stored_request(turn_in: TurnInput) -> dict[str, Any]:
    return {
        "systemContext": {"channelId": turn_in.channel_id, "contextParams": turn_in.system_params},
        "userContext": {"userId": turn_in.user_id, "contextParams": turn_in.user_params},
        "explicitAgent": turn_in.explicit_agent,
        "anonymizationEntities": turn_in.anonymization_entities,
    }


def _turn_claim(turn_in: TurnInput) -> _Claim:
    if settings.REQUIRE_API_KEYS:
        api_key_authorize(tenant_id=turn_in.tenant_id, authorization=turn_in.authorization)
    tenant = registry_note_traffic(tenant_id=turn_in.tenant_id, subset=turn_in.subset)
    conversation, new_conversation = Conversation.objects.get_or_create(
        tenant=tenant,
        conversation_id=turn_in.conversation_id,
        defaults={"channel_id": turn_in.channel_id, "subset": turn_in.subset, "user_id": turn_in.user_id},
    )
    request_hash = turn_in.request_hash
    try:
        with transaction.atomic():
            turn = Turn.objects.create(
                tenant=tenant,
                conversation=conversation,
                turn_id=turn_in.turn_id,
                request_hash=request_hash,
                channel_id=turn_in.channel_id,
                subset=turn_in.subset,
                messages=turn_in.messages,
                request=_stored_request(turn_in),
            )
        action = "proceed"
    except IntegrityError:
        turn = Turn.objects.get(tenant=tenant, conversation=conversation, turn_id=turn_in.turn_id)
        if turn.request_hash != request_hash:
            raise errors.TurnConflict(
                f"Turn {turn_in.turn_id!r} of conversation {turn_in.conversation_id!r} was sent before with a "
                "different body"
            ) from None
        action = _retry_action(turn)
    claim = _Claim(
        action=action,
        tenant=tenant,
        turn_pk=turn.pk,
        conversation_pk=conversation.pk,
        conversation_id=conversation.conversation_id,
    )
    if action == "replay":
        claim.stored = _stored_result(turn)
        return claim
    if action == "proceed":
        claim.registry = channel_registry(tenant=tenant, channel_id=turn_in.channel_id, subset=turn_in.subset)
    if action == "proceed" and not new_conversation:
        claim.current_agent = conversation.current_agent
        previous = (
            Turn.objects.filter(tenant=tenant, conversation=conversation, status=Turn.Status.COMPLETED)
            .exclude(pk=turn.pk)
            .order_by("-created_at", "-id")
            .values_list("messages", "agent_name")[:HISTORY_TURNS]
        )
        claim.history = [
            {"query": (msgs[-1].get("content", "") if msgs else ""), "agent": agent}
            for msgs, agent in reversed(previous)
        ]
    return claim


def _retry_action(turn: Turn) -> str:
    """What a request with the same turn id and body does with the existing row."""
    if turn.status == Turn.Status.COMPLETED:
        return "replay"
    now = timezone.now()
    if turn.status == Turn.Status.PENDING:
        if turn.started_at > now - _stale_after():
            return "wait"
        # Abandoned by a crashed process: take it over, unless someone else just did.
        claimed = Turn.objects.filter(pk=turn.pk, status=Turn.Status.PENDING, started_at=turn.started_at)
    else:
        claimed = Turn.objects.filter(pk=turn.pk, status=turn.status)
    won = claimed.update(
        status=Turn.Status.PENDING, started_at=now, attempts=turn.attempts + 1, error_code="", error_message=""
    )
    return "proceed" if won == 1 else "wait"


def _turn_poll(tenant: Tenant, turn_pk: int) -> dict[str, Any]:
    return _stored_result(Turn.objects.get(tenant=tenant, pk=turn_pk))


def _settled(
    *,
    status: str,
    started: float,
    decision: Decision | None,
    outcome: TurnOutcome | None,
    error: errors.RuntimeApiError | None,
) -> dict[str, Any]:
    """The turn's columns once an attempt ends (either storage path writes these)."""
    fields: dict[str, Any] = {
        "status": status,
        "latency_ms": (time.perf_counter() - started) * 1000,
        "routing_strategy": decision.strategy if decision else "",
        "agent_name": (decision.agent or "") if decision else "",
        "error_code": error.error_code if error else "",
        "error_message": error.message[:2000] if error else "",
    }
    if outcome is not None:
        fields.update(answer=outcome.answer, agent_messages=outcome.messages)
    return fields


def _turn_finish(
    *,
    claim: _Claim,
    settled: dict[str, Any],
    decision: Decision | None,
    registry: ChannelRegistry | None,
    current_agent: str,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        Turn.objects.filter(tenant=claim.tenant, pk=claim.turn_pk).update(**settled, completed_at=now)
        if decision is not None:
            decision_row(
                decision=decision,
                tenant=claim.tenant,
                turn=Turn(pk=claim.turn_pk),
                conversation_id=claim.conversation_id,
                registry=registry,
            ).save()
        if current_agent:
            Conversation.objects.filter(tenant=claim.tenant, pk=claim.conversation_pk).update(
                current_agent=current_agent, updated_at=now
            )


_orm_claim = db(_turn_claim)
_poll = db(_turn_poll)
_orm_finish = db(_turn_finish)


async def _claim(turn_in: TurnInput) -> _Claim:
    """The claim: on PostgreSQL as plain SQL on the event loop for the common case, else
    (SQLite, a new tenant or subset, a retried turn id) the ORM block in a thread."""
    if pg.available():
        row = await pg_turns.turn_claim(
            tenant_id=turn_in.tenant_id,
            conversation_id=turn_in.conversation_id,
            turn_id=turn_in.turn_id,
            channel_id=turn_in.channel_id,
            subset=turn_in.subset,
            user_id=turn_in.user_id,
            request_hash=turn_in.request_hash,
            messages=turn_in.messages,
            request=_stored_request(turn_in),
            history_turns=HISTORY_TURNS,
            authorization=turn_in.authorization,
            require_key=settings.REQUIRE_API_KEYS,
        )
        if row is not None:
            tenant = Tenant(pk=row.tenant_pk, tenant_id=turn_in.tenant_id, registry_version=row.registry_version)
            return _Claim(
                action="proceed",
                tenant=tenant,
                turn_pk=row.turn_pk,
                conversation_pk=row.conversation_pk,
                conversation_id=turn_in.conversation_id,
                current_agent=row.current_agent,
                history=row.history,
                registry=channel_registry_cached(
                    tenant_pk=row.tenant_pk,
                    registry_version=row.registry_version,
                    channel_id=turn_in.channel_id,
                    subset=turn_in.subset,
                ),
            )
    return await _orm_claim(turn_in)


async def _finish(
    *,
    claim: _Claim,
    status: str,
    started: float,
    decision: Decision | None,
    registry: ChannelRegistry | None,
    outcome: TurnOutcome | None = None,
    error: errors.RuntimeApiError | None = None,
) -> None:
    """Store how the attempt ended: plain SQL on the event loop on PostgreSQL, else the
    ORM block in a thread."""
    settled = _settled(status=status, started=started, decision=decision, outcome=outcome, error=error)
    completed = status == Turn.Status.COMPLETED and decision is not None and decision.agent
    current_agent = decision.agent if completed else ""
    if not pg.available():
        await _orm_finish(
            claim=claim, settled=settled, decision=decision, registry=registry, current_agent=current_agent
        )
        return
    await pg_turns.turn_finish(
        tenant_pk=claim.tenant.pk,
        turn_pk=claim.turn_pk,
        conversation_pk=claim.conversation_pk,
        conversation_id=claim.conversation_id,
        settled=settled,
        decision=decision_fields(decision=decision, registry=registry) if decision else None,
        current_agent=current_agent,
    )


def _raise_stored_error(stored: dict[str, Any]) -> None:
    cls = _ERRORS_BY_CODE.get(stored["error_code"], errors.RuntimeApiError)
    raise cls(stored["error_message"] or None)


def _outcome_from_stored(stored: dict[str, Any], turn_id: str) -> TurnOutcome:
    return TurnOutcome(
        answer=stored["answer"],
        agent=stored["agent"],
        strategy=stored["strategy"],
        turn_id=turn_id,
        replayed=True,
        messages=stored.get("agent_messages") or [],
    )


async def _wait_for(claim: _Claim, turn_id: str) -> TurnOutcome:
    """A duplicate of a turn in progress: wait for the first request's result."""
    deadline = time.monotonic() + _stale_after().total_seconds()
    delay = 0.02
    while time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)
        stored = await _poll(claim.tenant, claim.turn_pk)
        if stored["status"] == Turn.Status.COMPLETED:
            return _outcome_from_stored(stored, turn_id)
        if stored["status"] in (Turn.Status.FAILED, Turn.Status.CANCELLED):
            if stored["status"] == Turn.Status.CANCELLED:
                raise errors.AgentClientError("The first request for this turn was cancelled; retry it")
            _raise_stored_error(stored)
    raise errors.AgentTimeout("The first request for this turn did not finish in time")


def _agent_call(turn_in: TurnInput, agent: AgentSpec) -> AgentCall:
    return AgentCall(
        address=agent.address,
        agent_name=agent.name,
        subset=turn_in.subset,
        messages=[
            {k: m[k] for k in ("role", "content", "format", "turnId") if m.get(k) is not None} for m in turn_in.messages
        ],
        conversation_id=turn_in.conversation_id,
        turn_id=turn_in.turn_id,
        anonymization_entities=turn_in.anonymization_entities,
        system_context=turn_in.system_params,
        user_id=turn_in.user_id,
        user_token=turn_in.user_token,
        user_profile=turn_in.user_params,
        traceparent=turn_in.traceparent,
    )


def _log_extra(turn_in: TurnInput, **more: Any) -> dict[str, Any]:
    return {
        "tenant": turn_in.tenant_id,
        "conversation_id": turn_in.conversation_id,
        "turn_id": turn_in.turn_id,
        "channel": turn_in.channel_id,
        "subset": turn_in.subset,
        **more,
    }


async def conversation_turn(*, turn_in: TurnInput) -> TurnOutcome:
    """Run one chat turn and return its answer (see agents.client.AgentReply)."""
    outcome: TurnOutcome | None = None
    async for event in conversation_turn_events(turn_in=turn_in):
        if event.kind == "done":
            outcome = event.outcome
    assert outcome is not None
    return outcome


@dataclass
class TurnEvent:
    kind: str  # "message" | "intermediate" (one agent message) | "agent-event" | "done"
    message: dict[str, Any] | None = None  # {"content", "anonymizationEntities"}, or the event
    outcome: TurnOutcome | None = None


def _message_event(item: dict[str, Any]) -> TurnEvent:
    kind = "intermediate" if item.get("type") == INTERMEDIATE_MESSAGE else "message"
    return TurnEvent(kind, message={"content": item["content"], "anonymizationEntities": item["anonymizationEntities"]})


async def conversation_turn_events(*, turn_in: TurnInput) -> AsyncIterator[TurnEvent]:
    """One turn as a stream: an event per agent message (by its Arc type) and per agent
    event, then "done" with the outcome.

    Raises RuntimeApiError subclasses for every documented failure. When the consumer
    stops iterating (client gone), the agent call is cancelled and the turn is stored as
    cancelled.
    """
    # aclosing: a consumer that stops early must close the inner generator now (marking
    # the turn cancelled), not whenever it is garbage-collected.
    with metrics.turn_in_flight():
        async with contextlib.aclosing(_turn_events(turn_in)) as events:
            async for event in events:
                yield event


def _observe_failure(turn_in: TurnInput, decision: Decision | None, status: str, started: float) -> None:
    metrics.turn_observed(
        tenant=turn_in.tenant_id,
        channel=turn_in.channel_id,
        agent=(decision.agent if decision else None) or None,
        status=status,
        seconds=time.perf_counter() - started,
    )


async def _route(request: RouteRequest) -> Decision:
    started = time.perf_counter()
    try:
        decision = await route_query(request=request)
    except errors.AgentNotFound:
        metrics.routing_observed(strategy="none", seconds=time.perf_counter() - started, outcome="no_agent")
        raise
    outcome = "clarification" if decision.clarification else "fallback" if decision.fallback else "agent"
    metrics.routing_observed(strategy=decision.strategy, seconds=decision.latency_ms / 1000, outcome=outcome)
    return decision


async def _turn_events(turn_in: TurnInput) -> AsyncIterator[TurnEvent]:
    started = time.perf_counter()
    claim = await _claim(turn_in)
    if claim.action != "proceed":
        if claim.action == "replay":
            outcome = _outcome_from_stored(claim.stored, turn_in.turn_id)
        else:
            outcome = await _wait_for(claim, turn_in.turn_id)
        for message in outcome.messages or [outcome.answer]:
            yield _message_event({"anonymizationEntities": None, **message})
        yield TurnEvent("done", outcome=outcome)
        return

    decision: Decision | None = None
    registry: ChannelRegistry | None = None
    finished = False
    try:
        registry = claim.registry
        if registry is None or not registry.agents:
            # Not known yet (first chat of this tenant and subset) or no agents: the
            # registry service syncs on demand or says why there is no agent.
            registry = await registry_for_turn(
                tenant=claim.tenant, channel_id=turn_in.channel_id, subset=turn_in.subset
            )
        decision = await _route(
            RouteRequest(
                query=turn_in.query,
                messages=turn_in.messages,
                registry=registry,
                explicit_agent=turn_in.explicit_agent or None,
                current_agent=claim.current_agent or None,
                history=claim.history,
            )
        )
        if decision.clarification is not None:
            answer = {"content": decision.clarification, "anonymizationEntities": None}
            outcome = TurnOutcome(
                answer=answer,
                agent="",
                strategy=decision.strategy,
                turn_id=turn_in.turn_id,
                messages=[answer],
                confidence=decision.confidence,
            )
            yield TurnEvent("message", message=answer)
        else:
            agent = registry.agent(decision.agent or "")
            if agent is None:  # a router must only choose installed agents
                raise errors.AgentNotFound(f"Router chose unknown agent {decision.agent!r}")
            reply = AgentReply()
            async for result in agent_stream(_agent_call(turn_in, agent)):
                for item in reply.add(result):
                    yield TurnEvent("agent-event", message=item) if item["type"] == EVENT else _message_event(item)
            answer = reply.answer
            if answer is None:
                raise errors.AgentClientError(f"Agent {agent.name!r} completed without any message", kind="empty")
            outcome = TurnOutcome(
                answer=answer,
                agent=agent.name,
                strategy=decision.strategy,
                turn_id=turn_in.turn_id,
                messages=reply.messages,
                confidence=decision.confidence,
                events=reply.events,
            )
        await _finish(
            claim=claim,
            status=Turn.Status.COMPLETED,
            started=started,
            decision=decision,
            registry=registry,
            outcome=outcome,
        )
        finished = True
        metrics.turn_observed(
            tenant=turn_in.tenant_id,
            channel=turn_in.channel_id,
            agent=outcome.agent or None,
            status="ok",
            seconds=time.perf_counter() - started,
        )
        log.info("turn completed", extra=_log_extra(turn_in, agent=outcome.agent))
        yield TurnEvent("done", outcome=outcome)
    except errors.RuntimeApiError as exc:
        if not finished:
            await _fail(claim, turn_in, Turn.Status.FAILED, exc, started, decision, registry)
            log.info("turn failed: %s", exc.error_code, extra=_log_extra(turn_in, error_code=exc.error_code))
            if isinstance(exc, errors.AgentClientError):
                metrics.agent_error(kind=exc.kind)
            elif isinstance(exc, errors.AgentTimeout):
                metrics.agent_error(kind="timeout")
        raise
    except (asyncio.CancelledError, GeneratorExit):
        if not finished:
            gone = errors.RuntimeApiError("The client went away before the turn completed")
            gone.error_code = "CANCELLED"
            # Shielded: the task is being cancelled, but the turn must still be stored so.
            await asyncio.shield(_fail(claim, turn_in, Turn.Status.CANCELLED, gone, started, decision, registry))
        raise
    except Exception as exc:
        error = errors.unexpected_error(exc)
        if not finished:
            await _fail(claim, turn_in, Turn.Status.FAILED, error, started, decision, registry)
        raise error from exc


async def _fail(
    claim: _Claim,
    turn_in: TurnInput,
    status: str,
    error: errors.RuntimeApiError,
    started: float,
    decision: Decision | None,
    registry: ChannelRegistry | None,
) -> None:
    """Store a turn that did not complete, and count it."""
    await _finish(claim=claim, status=status, started=started, decision=decision, registry=registry, error=error)
    _observe_failure(turn_in, decision, error.error_code, started)


def conversations_purge(*, older_than_days: int, tenant: Tenant | None = None) -> tuple[int, int]:
    """Delete conversations whose last activity is older than `older_than_days` (with
    their turns and routing decisions). Returns (conversations, turns) deleted."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    conversations = Conversation.objects.filter(updated_at__lt=cutoff)
    if tenant is not None:
        conversations = conversations.filter(tenant=tenant)
    _, per_model = conversations.delete()
    return per_model.get("conversations.Conversation", 0), per_model.get("conversations.Turn", 0)
