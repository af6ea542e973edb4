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


def test_agent_last_message_comes_from_the_client_or_the_stored_answer():
    from routing.followup import agent_last_message

    client = request_for("yes please")
    client = RouteRequest(
        query="yes please",
        messages=[
            {"role": "user", "content": "I'm going to Spain"},
            {"role": "assistant", "content": "Shall I add a travel pass?"},
            {"role": "user", "content": "yes please"},
        ],
        registry=client.registry,
    )
    assert agent_last_message(client) == "Shall I add a travel pass?"
    stored = RouteRequest(
        query="yes please",
        messages=[{"role": "user", "content": "yes please"}],
        registry=client.registry,
        history=[{"query": "I'm going to Spain", "agent": "roaming-agent", "answer": {"content": "Want a pass?"}}],
    )
    assert agent_last_message(stored) == "Want a pass?"
    unanswered = RouteRequest(
        query="hello again",
        messages=[{"role": "user", "content": "hello"}, {"role": "user", "content": "hello again"}],
        registry=client.registry,
    )
    assert agent_last_message(unanswered) == ""


async def test_short_answer_to_the_agents_question_stays_even_when_it_reads_as_another_agents_topic():
    request = RouteRequest(
        query="by credit card",
        messages=[
            {"role": "user", "content": "I want to buy a new phone"},
            {"role": "assistant", "content": "Your phone is in the basket. How would you like to pay?"},
            {"role": "user", "content": "by credit card"},
        ],
        registry=registry(),
        current_agent="order-agent",
    )
    decision = await route_query(request=request, router_type="vector")
    assert (decision.strategy, decision.agent) == ("follow-up", "order-agent")


async def test_a_long_message_about_another_agent_switches():
    request = RouteRequest(
        query="Thanks, that's all for the phone. I forgot my password and cannot log in to my account",
        messages=[
            {"role": "user", "content": "I want to buy a new phone"},
            {"role": "assistant", "content": "Your phone is ordered. Anything else?"},
            {
                "role": "user",
                "content": "Thanks, that's all for the phone. I forgot my password and cannot log in to my account",
            },
        ],
        registry=registry(),
        current_agent="order-agent",
    )
    decision = await route_query(request=request, router_type="vector")
    assert decision.agent == "account-agent"
