"""Routing a query to an agent. The conversation service's only entry point is
`route_query`; its signature does not change when strategies are added."""

from __future__ import annotations

import time

from django.conf import settings

from lmos_runtime.exceptions import AgentNotFound
from routing.base import Candidate, Decision, RouteRequest


async def route_query(*, request: RouteRequest, router_type: str | None = None) -> Decision:
    """Decide which agent answers. Returns a Decision with `agent` set, or with
    `clarification` set; raises AgentNotFound when no agent fits and no fallback applies.
    """
    started = time.perf_counter()
    registry = request.registry
    if request.explicit_agent:
        if registry.agent(request.explicit_agent) is None:
            raise AgentNotFound(
                f"Agent {request.explicit_agent!r} is not installed for channel {registry.channel_id!r}"
            )
        return Decision(
            strategy="explicit",
            agent=request.explicit_agent,
            candidates=[Candidate(request.explicit_agent, 1.0)],
            reason="explicitAgent named in the request",
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    router_type = router_type or settings.ROUTER_TYPE
    # Placeholder until the vector/LLM strategies land: a channel with one agent routes to it.
    if len(registry.agents) == 1:
        only = registry.agents[0].name
        return Decision(
            strategy=router_type,
            agent=only,
            candidates=[Candidate(only, 1.0)],
            reason="only agent of the channel",
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    if registry.fallback_agent and registry.agent(registry.fallback_agent):
        return Decision(
            strategy="fallback",
            agent=registry.fallback_agent,
            reason="no agent fits; channel fallback agent",
            fallback=True,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    raise AgentNotFound(f"No agent fits the query in channel {registry.channel_id!r}")


def decision_row(*, decision: Decision, tenant, turn=None, conversation_id: str = "", registry=None):
    """An unsaved RoutingDecision for `decision` (saved with the turn, in one transaction)."""
    from routing.models import RoutingDecision

    return RoutingDecision(
        tenant=tenant,
        turn=turn,
        conversation_id=conversation_id,
        channel_id=registry.channel_id if registry else "",
        subset=registry.subset if registry else "",
        strategy=decision.strategy,
        chosen_agent=decision.agent or "",
        candidates=[c.as_dict() for c in decision.candidates],
        reason=decision.reason,
        fallback=decision.fallback,
        latency_ms=decision.latency_ms,
        registry_version=registry.registry_version if registry else None,
    )
