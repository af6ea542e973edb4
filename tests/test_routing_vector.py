"""The vector router and route_query on a small registry: routing, German queries,
abstention, explicit agents, follow-ups, fallback agent, clarification, decision rows."""

from __future__ import annotations

import pytest

from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry
from core.errors import AgentNotFound
from routing.base import RouteRequest
from routing.services import decision_row, route_query


def cap(name: str, description: str, *examples: str) -> CapabilitySpec:
    return CapabilitySpec(name=name, description=description, host="x.local:8080", examples=tuple(examples))


AGENTS = (
    AgentSpec(
        name="billing-agent",
        description="Answers questions about bills and invoices",
        address="billing.local:8080",
        capabilities=(
            cap("view-bill", "Shows the customer's bill", "why is my bill so high", "show me my last invoice"),
            cap("payment-methods", "Explains how to pay a bill", "can I pay by credit card"),
        ),
    ),
    AgentSpec(
        name="order-agent",
        description="Helps customers buy products and manage their orders",
        address="order.local:8080",
        capabilities=(
            cap("place-order", "Places a new order for a product", "I want to buy a new phone"),
            cap("track-order", "Tells where an order is", "where is my order"),
        ),
    ),
    AgentSpec(
        name="account-agent",
        description="Manages customer accounts and logins",
        address="account.local:8080",
        capabilities=(
            cap("recover-password", "Helps a customer who forgot the password", "I forgot my password"),
            cap("delete-account", "Deletes a customer account", "please close my account"),
        ),
    ),
)


def small_registry(**overrides) -> ChannelRegistry:
    values = {
        "tenant_id": "acme",
        "channel_id": "web",
        "subset": "stable",
        "registry_version": 1,
        "agents": AGENTS,
    }
    values.update(overrides)
    return ChannelRegistry(**values)


def request_for(query: str, registry: ChannelRegistry | None = None, *, previous: str = "", **kwargs) -> RouteRequest:
    messages = [{"role": "user", "content": previous}, {"role": "assistant", "content": "ok"}] if previous else []
    return RouteRequest(
        query=query,
        messages=[*messages, {"role": "user", "content": query}],
        registry=registry or small_registry(),
        **kwargs,
    )


@pytest.fixture(scope="session", autouse=True)
def _embedder_loaded():
    """Load the embedding models once for the whole session (~2-4 s)."""
    from routing.vector import get_embedder

    get_embedder()


@pytest.mark.parametrize(
    ("query", "agent"),
    [
        ("my invoice shows a charge I do not understand", "billing-agent"),
        ("I would like to order two pairs of shoes", "order-agent"),
        ("I can't log in, I lost my password", "account-agent"),
        ("Warum ist meine Rechnung so hoch?", "billing-agent"),
        ("Ich habe mein Passwort vergessen", "account-agent"),
    ],
)
async def test_vector_routes_query_to_the_agent_that_fits(query, agent):
    decision = await route_query(request=request_for(query), router_type="vector")
    assert decision.strategy == "vector"
    assert decision.agent == agent
    assert decision.candidates[0].agent == agent
    assert decision.candidates[0].score > decision.candidates[1].score
    assert decision.latency_ms > 0


async def test_vector_abstains_on_off_topic_query_and_404s_without_fallback(settings):
    settings.CLARIFICATION_ENABLED = False
    with pytest.raises(AgentNotFound, match="below the threshold"):
        await route_query(request=request_for("what's the weather like in Berlin tomorrow"), router_type="vector")


async def test_channel_threshold_overrides_the_default():
    registry = small_registry(vector_threshold=0.99)
    with pytest.raises(AgentNotFound):
        await route_query(request=request_for("why is my bill so high today", registry), router_type="vector")


async def test_channel_margin_rejects_a_near_tie():
    registry = small_registry(vector_margin=0.9)
    with pytest.raises(AgentNotFound, match="less than the margin"):
        await route_query(request=request_for("why is my bill so high today", registry), router_type="vector")


async def test_fallback_agent_answers_when_nothing_fits():
    registry = small_registry(fallback_agent="order-agent")
    decision = await route_query(
        request=request_for("who won the football match yesterday", registry), router_type="vector"
    )
    assert decision.strategy == "fallback"
    assert decision.agent == "order-agent"
    assert decision.fallback is True


async def test_clarification_template_names_what_the_agents_do(settings):
    settings.CLARIFICATION_ENABLED = True
    settings.OPENAI_API_KEY = None
    settings.OPENAI_API_URL = "https://api.openai.com/v1"
    decision = await route_query(request=request_for("who won the football match yesterday"), router_type="vector")
    assert decision.strategy == "clarification"
    assert decision.agent is None
    assert "Answers questions about bills and invoices" in decision.clarification
    assert "Manages customer accounts and logins" in decision.clarification


async def test_explicit_agent_wins_under_every_strategy():
    for router in ("vector", "llm", "hybrid", "explicit"):
        decision = await route_query(
            request=request_for("why is my bill so high", explicit_agent="account-agent"), router_type=router
        )
        assert (decision.strategy, decision.agent) == ("explicit", "account-agent")


async def test_unknown_explicit_agent_is_agent_not_found():
    with pytest.raises(AgentNotFound, match="ghost-agent"):
        await route_query(request=request_for("hello", explicit_agent="ghost-agent"), router_type="vector")


async def test_explicit_router_without_explicit_agent_finds_no_agent(settings):
    settings.CLARIFICATION_ENABLED = False
    with pytest.raises(AgentNotFound):
        await route_query(request=request_for("why is my bill so high"), router_type="explicit")


@pytest.mark.parametrize("reply", ["yes please", "the second one", "how much is that?"])
async def test_short_reply_stays_with_the_current_agent(reply):
    request = request_for(reply, previous="I want to buy a new phone", current_agent="order-agent")
    decision = await route_query(request=request, router_type="vector")
    assert decision.agent == "order-agent"
    assert decision.strategy in ("follow-up", "vector")


@pytest.mark.parametrize("reply", ["yes please", "the second one", "ok, do it"])
async def test_reply_that_fits_no_agent_alone_is_recorded_as_a_follow_up(reply):
    registry = small_registry(vector_threshold=0.5)
    request = request_for(reply, registry, previous="please close my account", current_agent="account-agent")
    decision = await route_query(request=request, router_type="vector")
    assert (decision.strategy, decision.agent) == ("follow-up", "account-agent")
    assert "continues the conversation" in decision.reason


async def test_short_reply_leaning_to_another_agent_stays_when_read_with_the_previous_message():
    request = request_for("and how much is that?", previous="I want to buy a new phone", current_agent="order-agent")
    decision = await route_query(request=request, router_type="vector")
    assert decision.agent == "order-agent"


async def test_follow_up_uses_stored_history_when_the_client_sends_only_the_new_message():
    request = RouteRequest(
        query="yes please",
        messages=[{"role": "user", "content": "yes please"}],
        registry=small_registry(),
        current_agent="order-agent",
        history=[{"query": "I want to buy a new phone", "agent": "order-agent"}],
    )
    decision = await route_query(request=request, router_type="vector")
    assert (decision.strategy, decision.agent) == ("follow-up", "order-agent")


@pytest.mark.parametrize(
    "query", ["I forgot my password, how can I get into my account again?", "I forgot my password"]
)
async def test_clear_topic_switch_moves_to_the_new_agent(query):
    request = request_for(query, previous="I want to buy a new phone", current_agent="order-agent")
    decision = await route_query(request=request, router_type="vector")
    assert (decision.strategy, decision.agent) == ("vector", "account-agent")


async def test_single_agent_channel_routes_to_its_agent():
    registry = small_registry(agents=AGENTS[:1])
    decision = await route_query(request=request_for("anything at all", registry), router_type="vector")
    assert decision.agent == "billing-agent"


async def test_index_is_built_once_per_set_of_agents():
    from routing.vector import cached_index, clear_cache, get_embedder

    clear_cache()
    registry = small_registry(registry_version=7)
    await route_query(request=request_for("why is my bill so high", registry), router_type="vector")
    first = cached_index(registry, get_embedder())
    await route_query(request=request_for("where is my order", registry), router_type="vector")
    assert cached_index(registry, get_embedder()) is first
    # The tenant's version moved (another channel changed): this channel's agents did not.
    unchanged = small_registry(registry_version=8)
    assert cached_index(unchanged, get_embedder()) is first
    newer = small_registry(registry_version=9, agents=AGENTS[:2])
    await route_query(request=request_for("where is my order", newer), router_type="vector")
    assert cached_index(newer, get_embedder()) is not first
    assert cached_index(registry, get_embedder()) is None  # the old agents' index was dropped


@pytest.mark.django_db
def test_decision_row_is_written_with_candidates_and_reason():
    from asgiref.sync import async_to_sync

    from agents.models import Tenant
    from routing.models import RoutingDecision

    tenant = Tenant.objects.create(tenant_id="acme")
    registry = small_registry()
    decision = async_to_sync(route_query)(request=request_for("why is my bill so high", registry), router_type="vector")
    decision_row(decision=decision, tenant=tenant, conversation_id="c1", registry=registry).save()
    row = RoutingDecision.objects.get(tenant=tenant)
    assert (row.strategy, row.chosen_agent, row.channel_id, row.registry_version) == (
        "vector",
        "billing-agent",
        "web",
        1,
    )
    assert row.candidates[0]["agent"] == "billing-agent"
    assert row.reason and row.latency_ms > 0
