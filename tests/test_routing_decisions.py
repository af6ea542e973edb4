"""What route_query decides and hands on to be stored: every AgentNotFound carries the
router's no-agent decision (strategy, candidates with scores, reason)."""

from __future__ import annotations

import pytest

from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry
from core.errors import AgentNotFound
from routing.base import RouteRequest
from routing.services import route_query


def cap(name: str, description: str, *examples: str) -> CapabilitySpec:
    return CapabilitySpec(name=name, description=description, host="x.local:8080", examples=tuple(examples))


AGENTS = (
    AgentSpec(
        name="billing-agent",
        description="Answers questions about bills and invoices",
        address="billing.local:8080",
        capabilities=(cap("view-bill", "Shows the customer's bill", "why is my bill so high"),),
    ),
    AgentSpec(
        name="order-agent",
        description="Helps customers buy products and manage their orders",
        address="order.local:8080",
        capabilities=(cap("place-order", "Places a new order for a product", "I want to buy a new phone"),),
    ),
    AgentSpec(
        name="account-agent",
        description="Manages customer accounts and logins",
        address="account.local:8080",
        capabilities=(cap("recover-password", "Helps a customer who forgot the password", "I forgot my password"),),
    ),
)


def registry(**overrides) -> ChannelRegistry:
    values = {"tenant_id": "acme", "channel_id": "web", "subset": "stable", "registry_version": 1, "agents": AGENTS}
    values.update(overrides)
    return ChannelRegistry(**values)


def request_for(query: str, reg: ChannelRegistry | None = None, **kwargs) -> RouteRequest:
    return RouteRequest(
        query=query, messages=[{"role": "user", "content": query}], registry=reg or registry(), **kwargs
    )


async def test_vector_no_agent_decision_travels_with_agent_not_found(settings):
    settings.CLARIFICATION_ENABLED = False
    # A threshold nothing clears: the decision is "no agent" whatever the model scores.
    with pytest.raises(AgentNotFound) as caught:
        await route_query(
            request=request_for("why is my bill so high", registry(vector_threshold=1.01)), router_type="vector"
        )
    decision = caught.value.decision
    assert decision is not None
    assert decision.agent is None
    assert decision.strategy == "vector"
    assert {c.agent for c in decision.candidates} == {a.name for a in AGENTS}
    assert all(isinstance(c.score, float) for c in decision.candidates)
    assert decision.reason and decision.reason in caught.value.message
    assert decision.latency_ms > 0


async def test_unknown_explicit_agent_carries_an_explicit_no_agent_decision():
    with pytest.raises(AgentNotFound) as caught:
        await route_query(request=request_for("hello", explicit_agent="ghost-agent"), router_type="vector")
    decision = caught.value.decision
    assert (decision.strategy, decision.agent) == ("explicit", None)
    assert "ghost-agent" in decision.reason


async def test_empty_registry_carries_a_no_agent_decision():
    with pytest.raises(AgentNotFound) as caught:
        await route_query(request=request_for("hello", registry(agents=())), router_type="vector")
    assert caught.value.decision.agent is None
    assert "No agents are installed" in caught.value.decision.reason


async def test_explicit_router_without_explicit_agent_carries_its_decision(settings):
    settings.CLARIFICATION_ENABLED = False
    with pytest.raises(AgentNotFound) as caught:
        await route_query(request=request_for("why is my bill so high"), router_type="explicit")
    assert caught.value.decision.strategy == "explicit"
    assert "no explicitAgent" in caught.value.decision.reason
