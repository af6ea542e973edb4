"""The conversation service: one turn from request to stored answer.

registry lookup → router → agent call → stored turn, routing decision and conversation.

How a turn is claimed, stored and read back (idempotency included) belongs to the turn
store, `conversations.turns`; this module only calls its API. No database connection is
held while the agent (or an LLM) is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.client import EVENT, INTERMEDIATE_MESSAGE, AgentCall, AgentReply, agent_stream
from agents.models import Tenant
from agents.services import registry_for_turn
from agents.specs import AgentSpec, ChannelRegistry
from conversations import turns
from conversations.models import Conversation
from core import errors, metrics, tracing
from routing.base import Decision, RouteRequest
from routing.services import route_query

log = logging.getLogger("conversations.turn")

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


def _stored_request(turn_in: TurnInput) -> dict[str, Any]:
    return {
        "systemContext": {"channelId": turn_in.channel_id, "contextParams": turn_in.system_params},
        "userContext": {"userId": turn_in.user_id, "contextParams": turn_in.user_params},
        "explicitAgent": turn_in.explicit_agent,
        "anonymizationEntities": turn_in.anonymization_entities,
    }


def _claim_request(turn_in: TurnInput) -> turns.ClaimRequest:
    return turns.ClaimRequest(
        tenant_id=turn_in.tenant_id,
        conversation_id=turn_in.conversation_id,
        turn_id=turn_in.turn_id,
        channel_id=turn_in.channel_id,
        subset=turn_in.subset,
        user_id=turn_in.user_id,
        request_hash=turn_in.request_hash,
        messages=turn_in.messages,
        request=_stored_request(turn_in),
        authorization=turn_in.authorization,
        require_key=settings.REQUIRE_API_KEYS,
        history_turns=HISTORY_TURNS,
    )


async def _finish(
    *,
    claim: turns.Claim,
    status: str,
    started: float,
    decision: Decision | None,
    registry: ChannelRegistry | None,
    outcome: TurnOutcome | None = None,
    error: errors.RuntimeApiError | None = None,
) -> bool:
    return await turns.turn_finish(
        claim=claim,
        settled=turns.Settled(
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000,
            decision=decision,
            registry=registry,
            answer=outcome.answer if outcome else None,
            agent_messages=outcome.messages if outcome else None,
            agent_events=outcome.events if outcome else None,
            error_code=error.error_code if error else "",
            error_message=error.message if error else "",
        ),
    )


def _outcome_from_stored(stored: turns.StoredTurn, turn_id: str) -> TurnOutcome:
    """The answer of a settled turn, or its error raised again."""
    if stored.status == turns.CANCELLED:
        raise errors.AgentClientError("The first request for this turn was cancelled; retry it")
    if stored.status != turns.COMPLETED:
        cls = _ERRORS_BY_CODE.get(stored.error_code, errors.RuntimeApiError)
        raise cls(stored.error_message or None)
    return TurnOutcome(
        answer=stored.answer or {},
        agent=stored.agent,
        strategy=stored.strategy,
        turn_id=turn_id,
        replayed=True,
        messages=stored.agent_messages,
        events=stored.agent_events,
    )


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


def _replayed(outcome: TurnOutcome) -> Iterator[TurnEvent]:
    """A settled turn's messages and events again, in the order the agent sent them."""
    events = list(outcome.events)
    for index, message in enumerate(outcome.messages or [outcome.answer]):
        while events and events[0].get("afterMessages", 0) <= index:
            yield TurnEvent("agent-event", message=events.pop(0))
        yield _message_event({"anonymizationEntities": None, **message})
    for event in events:
        yield TurnEvent("agent-event", message=event)


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
    with (
        metrics.turn_in_flight(),
        tracing.span(
            "turn",
            parent=tracing.remote_parent(turn_in.traceparent),
            tenant=turn_in.tenant_id,
            channel=turn_in.channel_id,
            subset=turn_in.subset,
            conversation_id=turn_in.conversation_id,
            turn_id=turn_in.turn_id,
        ) as span,
    ):
        async with contextlib.aclosing(_turn_events(turn_in)) as events:
            async for event in events:
                if event.kind == "done":
                    tracing.annotate(span, agent=event.outcome.agent, strategy=event.outcome.strategy, status="ok")
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
    with tracing.span("routing", agents=len(request.registry.agents)) as span:
        try:
            decision = await route_query(request=request)
        except errors.AgentNotFound as exc:
            metrics.routing_observed(strategy="none", seconds=time.perf_counter() - started, outcome="no_agent")
            if exc.decision is not None:
                tracing.annotate(span, strategy=exc.decision.strategy, confidence=exc.decision.confidence)
            raise
        tracing.annotate(span, strategy=decision.strategy, confidence=decision.confidence, agent=decision.agent)
    outcome = "clarification" if decision.clarification else "fallback" if decision.fallback else "agent"
    metrics.routing_observed(strategy=decision.strategy, seconds=decision.latency_ms / 1000, outcome=outcome)
    return decision


async def _turn_events(turn_in: TurnInput) -> AsyncIterator[TurnEvent]:
    started = time.perf_counter()
    request = _claim_request(turn_in)
    claim = await turns.turn_claim(request=request)
    if claim.action == "wait":
        claim = await turns.turn_wait(claim=claim, request=request)
    if claim.action == "replay":
        outcome = _outcome_from_stored(claim.stored, turn_in.turn_id)
        for event in _replayed(outcome):
            yield event
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
        try:
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
        except errors.AgentNotFound as exc:
            # Every decision is stored, "no agent" too: with the failed turn.
            decision = exc.decision or Decision(strategy=settings.ROUTER_TYPE, agent=None, reason=exc.message)
            raise
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
        for _ in range(3):
            if await _finish(
                claim=claim,
                status=turns.COMPLETED,
                started=started,
                decision=decision,
                registry=registry,
                outcome=outcome,
            ):
                break
            # Taken over while this process's lease had lapsed: the stored outcome is the
            # turn's one answer (or, if the taker died too, this one is stored after all).
            claim = await turns.turn_wait(claim=claim, request=request)
            if claim.action == "replay":
                finished = True
                outcome = _outcome_from_stored(claim.stored, turn_in.turn_id)
                break
        else:
            raise errors.AgentTimeout("The turn was taken over repeatedly and could not be stored; retry it")
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
            await _fail(claim, turn_in, turns.FAILED, exc, started, decision, registry)
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
            await asyncio.shield(_fail(claim, turn_in, turns.CANCELLED, gone, started, decision, registry))
        raise
    except Exception as exc:
        error = errors.unexpected_error(exc)
        if not finished:
            await _fail(claim, turn_in, turns.FAILED, error, started, decision, registry)
        raise error from exc


async def _fail(
    claim: turns.Claim,
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
