"""`POST .../{tenantId}/route`: the dry run of a turn's routing, through the HTTP API. It
routes as the turn would and leaves no trace of a turn: no agent call, no Turn, no decision."""

from __future__ import annotations

import json
import socket

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from agents.models import ApiKey, Channel, Tenant
from conversations.models import Conversation, Turn
from routing.models import RoutingDecision
from tests.factories import make_registry
from tests.support import agents

pytestmark = pytest.mark.django_db(transaction=True)

PREFIXES = ["/lmos/runtime/apis/v1", "/apis/v1"]
DESCRIBED = {
    "billing-agent": "Answers questions about bills, invoices, charges and payments",
    "contracts-agent": "Manages contracts: cancel a contract, change the tariff, contract duration",
}


def body(content: str = "Why is my bill so high?", **input_context) -> dict:
    return {
        "inputContext": {"messages": [{"role": "user", "format": "text", "content": content}], **input_context},
        "systemContext": {"channelId": "web"},
        "userContext": {"userId": "user456"},
    }


async def route(data, *, tenant="acme", query="", turn: str | None = "turn-1", prefix=PREFIXES[1], headers=None):
    all_headers = {"x-turn-id": turn} if turn else {}
    all_headers.update(headers or {})
    payload = data if isinstance(data, str) else json.dumps(data)
    path = f"{prefix}/{tenant}/route{query}"
    return await AsyncClient().post(path, payload, content_type="application/json", headers=all_headers)


def closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def registry(addresses: dict[str, str], *, fallback: str = "") -> Tenant:
    """A channel whose agents have the DESCRIBED descriptions (and no examples)."""

    def build() -> Tenant:
        tenant, channel = make_registry(agents=addresses)
        for agent in channel.agents.all():
            agent.description = DESCRIBED[agent.name]
            agent.save()
            agent.capabilities.update(description=DESCRIBED[agent.name])
        Channel.objects.filter(pk=channel.pk).update(fallback_agent=fallback)
        tenant.bump_registry_version()
        return tenant

    return await sync_to_async(build)()


async def nothing_stored() -> bool:
    return (
        await Turn.objects.acount() == 0
        and await RoutingDecision.objects.acount() == 0
        and await Conversation.objects.acount() == 0
    )


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_it_routes_like_a_turn_without_calling_the_agent_or_storing_anything(prefix):
    # The agents' ports are closed: a turn would fail with 502, the dry run never calls them.
    await registry({"billing-agent": closed_address(), "contracts-agent": closed_address()})
    response = await route(body("Why is my bill so high this month?"), prefix=prefix)
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"agent", "strategy", "confidence", "reason", "candidates"}
    assert (data["agent"], data["strategy"]) == ("billing-agent", "vector")
    # The router's calibrated confidence, when the strategy reports one.
    assert (data["confidence"] is None or 0.0 <= data["confidence"] <= 1.0) and data["reason"]
    assert [c["agent"] for c in data["candidates"]][:1] == ["billing-agent"]
    assert all(isinstance(c["score"], float) for c in data["candidates"])
    assert await nothing_stored()


async def test_an_explicit_agent_wins_and_an_unknown_one_is_404():
    await registry({"billing-agent": closed_address(), "contracts-agent": closed_address()})
    data = (await route(body("Why is my bill so high?", explicitAgent="contracts-agent"))).json()
    assert (data["agent"], data["strategy"], data["candidates"]) == (
        "contracts-agent",
        "explicit",
        [{"agent": "contracts-agent", "score": 1.0}],
    )
    response = await route(body(explicitAgent="ghost-agent"))
    assert response.status_code == 404 and response.json()["errorCode"] == "AGENT_NOT_FOUND"
    assert "ghost-agent" in response.json()["message"]


async def test_no_agent_is_an_answer_with_the_routers_reason_then_fallback_then_clarification(settings):
    tenant = await registry({"billing-agent": closed_address(), "contracts-agent": closed_address()})
    off_topic = body("What is the capital of Mongolia and how tall is its tallest mountain?")
    data = (await route(off_topic)).json()
    assert (data["agent"], data["strategy"]) == (None, "vector")
    assert data["reason"] and len(data["candidates"]) == 2

    settings.CLARIFICATION_ENABLED = True
    data = (await route(off_topic)).json()
    assert (data["agent"], data["strategy"]) == (None, "clarification")

    await Channel.objects.filter(tenant=tenant).aupdate(fallback_agent="contracts-agent")
    await sync_to_async(tenant.bump_registry_version)()
    data = (await route(off_topic)).json()
    assert (data["agent"], data["strategy"]) == ("contracts-agent", "fallback")
    assert await nothing_stored()


async def test_a_follow_up_uses_the_stored_conversation_and_the_next_turn_agrees(arc_agent):
    billing = await arc_agent(agents.echo("billing: "))
    contracts = await arc_agent(agents.echo("contracts: "))
    await registry({"billing-agent": billing.address, "contracts-agent": contracts.address})
    first = await AsyncClient().post(
        "/apis/v1/acme/chat/conv-1/message",
        json.dumps(body("I want to cancel my contract")),
        content_type="application/json",
        headers={"x-turn-id": "t-1"},
    )
    assert first["x-agent-name"] == "contracts-agent"
    calls = (len(billing.received), len(contracts.received))

    follow_up = body("what do you think about that?")
    without = (await route(follow_up)).json()
    dry = (await route(follow_up, query="?conversationId=conv-1", turn="t-2")).json()
    assert dry["agent"] == "contracts-agent" and dry["strategy"] == "follow-up"
    assert without["strategy"] != "follow-up"  # no conversation named: no follow-up rules
    assert (len(billing.received), len(contracts.received)) == calls
    assert await Turn.objects.acount() == 1 and await RoutingDecision.objects.acount() == 1

    second = await AsyncClient().post(
        "/apis/v1/acme/chat/conv-1/message",
        json.dumps(follow_up),
        content_type="application/json",
        headers={"x-turn-id": "t-2"},
    )
    assert (second["x-agent-name"], second["x-routing-strategy"]) == (dry["agent"], dry["strategy"])


async def test_it_has_the_chat_endpoints_key_rules_and_errors(settings):
    await registry({"billing-agent": closed_address(), "contracts-agent": closed_address()})
    _, own = await sync_to_async(ApiKey.generate)(tenant=await Tenant.objects.aget(tenant_id="acme"))
    _, other = await sync_to_async(ApiKey.generate)(tenant=await Tenant.objects.acreate(tenant_id="other"))
    settings.REQUIRE_API_KEYS = True
    assert (await route(body())).status_code == 401
    assert (await route(body(), headers={"Authorization": f"Bearer {other}"})).status_code == 403
    assert (await route(body(), headers={"Authorization": f"Bearer {own}"})).status_code == 200
    settings.REQUIRE_API_KEYS = False

    assert (await route(body(), turn=None)).json()["message"] == "Header x-turn-id is required"
    assert (await route(body(), query="?conversationId=a/b")).status_code == 400
    assert (await route("{not json")).status_code == 400
    assert (await route({"inputContext": {"messages": []}})).json()["errorCode"] == "INVALID_REQUEST"
    unknown_channel = {**body(), "systemContext": {"channelId": "nowhere"}}
    assert (await route(unknown_channel)).json()["errorCode"] == "AGENT_NOT_FOUND"
    response = await AsyncClient().get("/apis/v1/acme/route")
    assert (response.status_code, response["Allow"]) == (405, "POST")
    settings.MAX_MESSAGE_CHARS = 10
    assert "longer than 10" in (await route(body())).json()["message"]
    settings.MAX_MESSAGE_CHARS = 32000
    settings.MAX_INFLIGHT_TURNS = 0
    response = await route(body())
    assert (response.status_code, response.json()["errorCode"]) == (503, "OVERLOADED")
    assert await Turn.objects.acount() == 0


async def test_a_short_reply_to_the_agents_stored_question_stays_as_the_next_turn_does(arc_agent):
    billing = await arc_agent(agents.echo("billing: "))
    contracts = await arc_agent(agents.several("Shall I send you the invoice for your contract by email?"))
    await registry({"billing-agent": billing.address, "contracts-agent": contracts.address})
    first = await AsyncClient().post(
        "/apis/v1/acme/chat/conv-1/message",
        json.dumps(body("I want to cancel my contract")),
        content_type="application/json",
        headers={"x-turn-id": "t-1"},
    )
    assert first["x-agent-name"] == "contracts-agent"
    # Read alone, "yes, the invoice" is about bills; as the answer to the stored question it stays.
    reply = body("yes, the invoice")
    dry = (await route(reply, query="?conversationId=conv-1", turn="t-2")).json()
    assert (dry["agent"], dry["strategy"]) == ("contracts-agent", "follow-up")
    assert "reply to the agent's question" in dry["reason"]
    second = await AsyncClient().post(
        "/apis/v1/acme/chat/conv-1/message",
        json.dumps(reply),
        content_type="application/json",
        headers={"x-turn-id": "t-2"},
    )
    assert (second["x-agent-name"], second["x-routing-strategy"]) == (dry["agent"], dry["strategy"])
