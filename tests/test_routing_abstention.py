"""Abstention that transfers: a registry nobody fitted anything on gets its own threshold at
index build (routing/vector/_calibration.py), and every vector decision carries its
relevance and a calibrated confidence. The queries here are not in the shipped off-topic
messages; the assertions hold for most queries, not for exact model scores."""

from __future__ import annotations

import pytest

from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry
from routing.base import RouteRequest
from routing.strategies.vector import VectorStrategy
from routing.vector import Gate, build_index, get_embedder, rankings
from routing.vector._calibration import offtopic_sentences


def _agent(name: str, description: str, *capabilities: tuple[str, str]) -> AgentSpec:
    return AgentSpec(
        name=name,
        description=description,
        address=f"{name}.local:8080",
        capabilities=tuple(CapabilitySpec(name=n, description=d) for n, d in capabilities),
    )


# A garden centre's web channel, made up for this test.
GARDEN = (
    _agent(
        "plant-care-agent",
        "Advises on caring for the plants, seeds and bulbs the garden centre sells",
        ("watering-advice", "Explains how often and how much to water a plant bought here"),
        ("pest-advice", "Helps when a plant from the shop has pests or a disease"),
    ),
    _agent(
        "delivery-agent",
        "Arranges delivery of heavy garden goods such as soil, gravel and sheds",
        ("book-delivery", "Books a delivery slot for a large order"),
        ("delivery-status", "Tells where a garden goods delivery is"),
    ),
    _agent(
        "returns-agent",
        "Handles returns and refunds of products bought at the garden centre",
        ("start-return", "Starts the return of a damaged or unwanted product"),
        ("refund-status", "Tells when a refund for a return is paid"),
    ),
    _agent(
        "loyalty-agent",
        "Manages the garden club loyalty card and its points",
        ("points-balance", "Tells the points on a loyalty card"),
        ("join-club", "Signs a customer up for the garden club card"),
    ),
)
ON_TOPIC = [
    ("the roses I bought last week have greenfly, what can I do", "plant-care-agent"),
    ("when will my ten bags of compost and the shed arrive", "delivery-agent"),
    ("the watering can I bought is cracked and I want my money back", "returns-agent"),
    ("how many points do I have on my garden club card", "loyalty-agent"),
    ("can you deliver two tonnes of gravel on saturday", "delivery-agent"),
]
OFF_TOPIC = [
    "what is the capital city of peru",
    "write me a short poem about a sleepy owl",
    "who scored the winning goal in the 2014 world cup final",
    "how do I solve a quadratic equation",
    "recommend a thriller to watch tonight",
    "what year did the berlin wall fall",
    "explain how a steam engine works",
    "tell me a fun fact about jellyfish",
]


def registry(agents=GARDEN, **overrides) -> ChannelRegistry:
    values = {"tenant_id": "garden", "channel_id": "web", "subset": "stable", "registry_version": 1, "agents": agents}
    return ChannelRegistry(**{**values, **overrides})


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def test_the_test_queries_are_not_the_shipped_calibration_messages():
    shipped = {s.lower() for s in offtopic_sentences()}
    assert len(shipped) >= 300
    assert not shipped & {q.lower() for q in OFF_TOPIC}


def test_a_new_registry_turns_off_topic_queries_away_and_routes_its_own(embedder, settings):
    settings.ROUTER_VECTOR_THRESHOLD = None
    index = build_index(registry(), embedder)
    gate = Gate.for_registry(registry())
    assert gate.threshold is None  # nothing configured: the registry's calibrated threshold
    routed = [gate.judge(r)[0] for r in rankings(embedder, index, [q for q, _ in ON_TOPIC])]
    assert sum(agent == expected for agent, (_, expected) in zip(routed, ON_TOPIC, strict=True)) >= 4
    turned_away = [gate.judge(r)[0] is None for r in rankings(embedder, index, OFF_TOPIC)]
    assert sum(turned_away) >= 6, turned_away


def test_the_threshold_follows_the_registry(embedder):
    # One broad agent lifts every off-topic message's relevance, and the threshold with it.
    broad = registry(
        (
            *GARDEN,
            _agent(
                "general-knowledge-agent",
                "Answers general knowledge questions about history, geography, science, films and sport",
                ("trivia", "Answers trivia and homework questions and writes poems and stories"),
            ),
        )
    )
    narrow_index, broad_index = build_index(registry(), embedder), build_index(broad, embedder)
    assert broad_index.threshold > narrow_index.threshold


async def test_every_vector_decision_carries_relevance_and_a_confidence_between_0_and_1(settings):
    settings.ROUTER_VECTOR_THRESHOLD = None
    strategy = VectorStrategy()
    decisions = [
        await strategy.decide(RouteRequest(query=q, messages=[], registry=registry()))
        for q in [ON_TOPIC[0][0], ON_TOPIC[3][0], *OFF_TOPIC[:4]]
    ]
    assert any(d.agent is None for d in decisions) and any(d.agent for d in decisions)
    for decision in decisions:
        assert decision.relevance is not None
        assert 0.0 <= decision.confidence <= 1.0
    # Turned away or routed, the confidence is about the decision made: a routed on-topic
    # query is surer than a routed query with less relevance would be, and a no-agent
    # decision is surer the farther the query is from every agent.
    routed = [d for d in decisions if d.agent]
    assert max(d.confidence for d in routed) > 0.5


async def test_a_channel_threshold_still_overrides_the_calibrated_one(settings):
    settings.ROUTER_VECTOR_THRESHOLD = None
    strategy = VectorStrategy()

    async def decide(query: str, threshold: float):
        return await strategy.decide(
            RouteRequest(query=query, messages=[], registry=registry(vector_threshold=threshold))
        )

    assert (await decide(OFF_TOPIC[0], -1.0)).agent is not None
    strict = await decide(ON_TOPIC[0][0], 0.99)
    assert strict.agent is None and "(configured)" in strict.reason
