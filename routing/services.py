"""Routing a query to an agent. The conversation service's only entry point is
`route_query`; its signature does not change when strategies are added."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from core.errors import AgentNotFound
from routing.base import Candidate, Decision, RouteRequest
from routing.strategies.llm import LLM_CONFIDENCE

log = logging.getLogger("routing")

# Strategies whose decision may be overridden by the follow-up rules (the LLM router
# sees the conversation in its prompt and decides follow-ups itself).
FOLLOW_UP_STRATEGIES = {"vector", "hybrid"}

# The confidence of a decision whose strategy reports none. The vector router computes its
# own (calibrated, routing/vector); a follow-up reports routing/followup.py's; the LLM
# router its measured accuracy (routing/strategies/llm.py); a fallback
# agent or a clarification reports the strategy's confidence that no agent fits (0.0 when
# nothing was judged, e.g. the LLM was down).
EXPLICIT_CONFIDENCE = 1.0  # the client named the agent, or the channel has only one
STRATEGY_CONFIDENCE = {"explicit": EXPLICIT_CONFIDENCE, "llm": LLM_CONFIDENCE}


async def route_query(*, request: RouteRequest, router_type: str | None = None) -> Decision:
    """Decide which agent answers. Returns a Decision with `agent` set, or with
    `clarification` set; raises AgentNotFound when no agent fits and no fallback applies.

    Order: a valid explicitAgent wins; else the strategy (ROUTER_TYPE); then the
    follow-up rules; if still no agent: the channel's fallback agent, a clarification
    question (CLARIFICATION_ENABLED), or AgentNotFound.
    """
    from routing.clarification import clarification_question
    from routing.followup import follow_up
    from routing.strategies import get_strategy
    from routing.strategies.llm import LlmUnavailable, llm_configured

    started = time.perf_counter()
    registry = request.registry

    def done(decision: Decision) -> Decision:
        decision.latency_ms = (time.perf_counter() - started) * 1000
        return decision

    def not_found(message: str, decision: Decision) -> AgentNotFound:
        return AgentNotFound(message, decision=done(decision))

    if request.explicit_agent:
        if registry.agent(request.explicit_agent) is None:
            message = f"Agent {request.explicit_agent!r} is not installed for channel {registry.channel_id!r}"
            raise not_found(message, Decision(strategy="explicit", agent=None, reason=message))
        return done(
            Decision(
                strategy="explicit",
                agent=request.explicit_agent,
                candidates=[Candidate(request.explicit_agent, 1.0)],
                reason="explicitAgent named in the request",
                confidence=EXPLICIT_CONFIDENCE,
            )
        )
    router_type = router_type or settings.ROUTER_TYPE
    if not registry.agents:
        message = f"No agents are installed for channel {registry.channel_id!r}"
        raise not_found(message, Decision(strategy=router_type, agent=None, reason=message))

    llm_down: str | None = None
    if len(registry.agents) == 1 and router_type != "explicit":
        only = registry.agents[0].name
        decision = Decision(
            strategy=router_type,
            agent=only,
            candidates=[Candidate(only, 1.0)],
            reason="only agent of the channel",
            confidence=EXPLICIT_CONFIDENCE,
        )
    else:
        try:
            decision = await get_strategy(router_type).decide(request)
        except LlmUnavailable as exc:
            llm_down = str(exc)
            log.warning("LLM router unavailable: %s", exc)
            reason = f"LLM router unavailable: {exc}"
            decision = Decision(strategy=router_type, agent=None, reason=reason, fallback=True, confidence=0.0)
        if decision.confidence is None:
            decision.confidence = STRATEGY_CONFIDENCE.get(decision.strategy)
        if router_type in FOLLOW_UP_STRATEGIES:
            decision = await follow_up(request, decision) or decision
    if decision.agent:
        return done(decision)

    if registry.fallback_agent and registry.agent(registry.fallback_agent):
        return done(
            Decision(
                strategy="fallback",
                agent=registry.fallback_agent,
                candidates=decision.candidates,
                reason=f"{decision.reason}; channel fallback agent",
                fallback=True,
                confidence=decision.confidence,
                relevance=decision.relevance,
            )
        )
    if settings.CLARIFICATION_ENABLED:
        text = await clarification_question(
            query=request.query, registry=registry, use_llm=llm_configured() and llm_down is None
        )
        return done(
            Decision(
                strategy="clarification",
                agent=None,
                candidates=decision.candidates,
                reason=f"{decision.reason}; asked the user to clarify",
                fallback=llm_down is not None,
                clarification=text,
                confidence=decision.confidence,
                relevance=decision.relevance,
            )
        )
    if llm_down is not None:
        raise not_found(f"No agent could be chosen: the LLM router is unavailable ({llm_down})", decision)
    raise not_found(f"No agent fits the query in channel {registry.channel_id!r}: {decision.reason}", decision)


def decision_fields(*, decision: Decision, registry=None) -> dict[str, Any]:
    """The stored columns of `decision` (besides tenant, turn and conversation)."""
    return {
        "channel": registry.channel_id if registry else "",
        "subset": registry.subset if registry else "",
        "strategy": decision.strategy,
        "chosen": decision.agent or "",
        "candidates": [c.as_dict() for c in decision.candidates],
        "reason": decision.reason[:2000],
        "fallback": decision.fallback,
        "latency_ms": decision.latency_ms,
        "confidence": _rounded(decision.confidence),
        "relevance": _rounded(decision.relevance),
        "registry_version": registry.registry_version if registry else None,
    }


def decision_row(*, decision: Decision, tenant, turn=None, conversation_id: str = "", registry=None):
    """An unsaved RoutingDecision for `decision` (saved with the turn, in one transaction)."""
    from routing.models import RoutingDecision

    fields = decision_fields(decision=decision, registry=registry)
    return RoutingDecision(
        tenant=tenant,
        turn=turn,
        conversation_id=conversation_id,
        channel_id=fields["channel"],
        subset=fields["subset"],
        strategy=fields["strategy"],
        chosen_agent=fields["chosen"],
        candidates=fields["candidates"],
        reason=fields["reason"],
        fallback=fields["fallback"],
        latency_ms=fields["latency_ms"],
        confidence=fields["confidence"],
        relevance=fields["relevance"],
        registry_version=fields["registry_version"],
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
