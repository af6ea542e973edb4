"""Routing seen through the chat API with real Arc agents on loopback: the confidence
header and the stored decision, follow-ups decided with the agent's last message, and
the decisions in the admin."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from agents.models import Agent, Capability, Channel, Tenant
from conversations.models import Turn
from routing.models import RoutingDecision

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/lmos/runtime/apis/v1/acme/chat/{conversation}/message"


def body(*messages: tuple[str, str], explicit: str = "") -> dict:
    data = {
        "inputContext": {"messages": [{"role": role, "format": "text", "content": text} for role, text in messages]},
        "systemContext": {"channelId": "web"},
        "userContext": {"userId": "user456"},
    }
    if explicit:
        data["inputContext"]["explicitAgent"] = explicit
    return data


async def post(data: dict, *, conversation: str = "conv-1", turn: str = "turn-1"):
    return await AsyncClient().post(
        URL.format(conversation=conversation),
        json.dumps(data),
        content_type="application/json",
        headers={"x-turn-id": turn, "x-subset": "stable"},
    )


def _make_channel(agents: dict[str, tuple[str, str, list[tuple[str, str]]]]) -> Tenant:
    """A tenant whose web channel has `agents`: name -> (address, description, [(capability, description)])."""
    tenant, _ = Tenant.objects.get_or_create(tenant_id="acme")
    channel = Channel.objects.create(tenant=tenant, channel_id="web", subset="stable", version="1.0.0")
    for name, (address, description, capabilities) in agents.items():
        agent = Agent.objects.create(
            tenant=tenant, channel=channel, name=name, description=description, address=address, subset="stable"
        )
        for cap, cap_description in capabilities:
            Capability.objects.create(agent=agent, name=cap, description=cap_description, host=address)
    tenant.bump_registry_version()
    return tenant


async def channel(agents) -> Tenant:
    return await sync_to_async(_make_channel)(agents)


async def test_explicit_agent_answer_carries_full_confidence_header_and_row(arc_agent):
    agent = await arc_agent()
    tenant = await channel(
        {
            "billing-agent": (agent.address, "Bills and invoices", [("view-bill", "Shows the bill")]),
            "order-agent": (agent.address, "Orders", [("track-order", "Tracks an order")]),
        }
    )
    response = await post(body(("user", "hello"), explicit="order-agent"))
    assert response.status_code == 200, response.content
    assert response["x-agent-name"] == "order-agent"
    assert response["x-routing-confidence"] == "1.000"
    decision = await RoutingDecision.objects.aget(tenant=tenant)
    assert decision.confidence == 1.0


# --- follow-ups with the agent's last message in the history --------------------------------


TELCO = {
    "roaming-agent": (
        "Helps customers who travel abroad: using the phone in other countries, roaming charges and travel passes.",
        [
            ("travel-pass", "Books a travel pass with extra data for a trip."),
            ("roaming-charges", "Explains what calls and data cost abroad."),
        ],
    ),
    "device-agent": (
        "Sells phones and tablets and helps with broken devices: buying a new device, repairs and insurance.",
        [
            ("device-repair", "Arranges the repair of a broken phone, such as a cracked screen."),
            ("buy-device", "Orders a new phone."),
        ],
    ),
    "billing-agent": (
        "Answers questions about bills and invoices: charges, payments and refunds of wrong charges.",
        [("explain-bill", "Explains the charges on the customer's bill.")],
    ),
    "account-agent": (
        "Manages the customer's account: login and password, personal details, SIM card and PIN.",
        [("reset-password", "Resets the password of the customer's online account.")],
    ),
}
OFFER = "Yes, your plan covers the EU. I can also add a travel pass with 10 GB for 9.99 euros. Would you like that?"
FIRST = "I'm going to Spain next week, will my phone work there?"


async def telco_channel(arc_agent, behaviour=None) -> Tenant:
    agent = await arc_agent(behaviour)
    return await channel({name: (agent.address, d, caps) for name, (d, caps) in TELCO.items()})


async def test_short_reply_to_the_agents_offer_stays_with_the_current_agent(arc_agent):
    await telco_channel(arc_agent)
    first = await post(body(("user", FIRST), explicit="roaming-agent"), turn="t1")
    assert first["x-agent-name"] == "roaming-agent"
    for turn, reply in (("t2", "yes please"), ("t3", "the second one")):
        response = await post(body(("user", FIRST), ("assistant", OFFER), ("user", reply)), turn=turn)
        assert response.status_code == 200, response.content
        assert response["x-agent-name"] == "roaming-agent", reply
        assert response["x-routing-strategy"] == "follow-up"
        assert float(response["x-routing-confidence"]) > 0
    decision = await RoutingDecision.objects.aget(turn__turn_id="t3")
    assert (decision.strategy, decision.chosen_agent) == ("follow-up", "roaming-agent")


async def test_a_new_topic_after_a_thank_you_switches_agent(arc_agent):
    await telco_channel(arc_agent)
    await post(body(("user", FIRST), explicit="roaming-agent"), turn="t1")
    answer = "Your plan includes EU roaming, so you can use your data as at home. Anything else I can help with?"
    switch = "Thanks! Actually my screen is cracked, can you repair it?"
    response = await post(body(("user", FIRST), ("assistant", answer), ("user", switch)), turn="t2")
    assert response.status_code == 200, response.content
    assert response["x-agent-name"] == "device-agent"
    # The conversation's agent is now the device agent: a short answer to it stays there.
    question = "A screen repair costs 129 euros. Shall I book it?"
    again = await post(
        body(("user", FIRST), ("assistant", answer), ("user", switch), ("assistant", question), ("user", "yes")),
        turn="t3",
    )
    assert again["x-agent-name"] == "device-agent"


async def test_a_client_that_sends_only_the_new_message_gets_the_stored_answer_read(arc_agent):
    from tests.support.agents import several

    await telco_channel(arc_agent, several(OFFER))
    first = await post(body(("user", FIRST), explicit="roaming-agent"), turn="t1")
    assert first.json()["content"] == OFFER
    response = await post(body(("user", "yes please")), turn="t2")
    assert response.status_code == 200, response.content
    assert response["x-agent-name"] == "roaming-agent"
    assert response["x-routing-strategy"] == "follow-up"


# --- decisions in the admin ---------------------------------------------------------------


async def test_admin_turn_links_to_its_decision_and_list_filters_no_agent(arc_agent, admin_client):
    agent = await arc_agent()
    tenant = await channel(
        {
            "billing-agent": (agent.address, "Bills and invoices", [("view-bill", "Shows the bill")]),
            "order-agent": (agent.address, "Orders", [("track-order", "Tracks an order")]),
        }
    )
    assert (await post(body(("user", "hello"), explicit="order-agent"))).status_code == 200
    routed = await RoutingDecision.objects.aget(tenant=tenant)
    turn = await Turn.objects.aget(turn_id="turn-1")
    # A no-agent decision as the turn store writes it for a turn that was turned away.
    await RoutingDecision.objects.acreate(
        tenant=tenant,
        channel_id="web",
        strategy="vector",
        chosen_agent="",
        candidates=[{"agent": "billing-agent", "score": 0.1}],
        reason="relevance below the threshold",
        confidence=0.7,
    )

    page = await sync_to_async(admin_client.get)(f"/admin/conversations/turn/{turn.pk}/change/")
    assert page.status_code == 200
    assert f"/admin/routing/routingdecision/{routed.pk}/change/" in page.content.decode()

    async def listed(outcome: str) -> set[str]:
        page = await sync_to_async(admin_client.get)(f"/admin/routing/routingdecision/?outcome={outcome}")
        assert page.status_code == 200
        return {d.chosen_agent for d in page.context["cl"].result_list}

    assert await listed("none") == {""}
    assert await listed("agent") == {"order-agent"}


def test_admin_test_routing_page_reads_the_agents_last_message(admin_client):
    _make_channel({name: ("x.local:8080", d, caps) for name, (d, caps) in TELCO.items()})
    channel_pk = Channel.objects.get(channel_id="web").pk
    form = {"channel": channel_pk, "query": "yes please", "router": "vector", "current_agent": "roaming-agent"}
    response = admin_client.post("/admin/routing/routingdecision/test-routing/", {**form, "agent_message": OFFER})
    assert response.status_code == 200
    assert response.context["result"]["decision"].agent == "roaming-agent"
    assert response.context["result"]["decision"].strategy == "follow-up"
    assert RoutingDecision.objects.count() == 0


async def test_turn_that_finds_no_agent_stores_its_decision_and_the_admin_shows_it(arc_agent, admin_client, settings):
    settings.CLARIFICATION_ENABLED = False
    agent = await arc_agent()
    tenant = await channel(
        {
            "billing-agent": (agent.address, "Bills and invoices", [("view-bill", "Shows the bill")]),
            "order-agent": (agent.address, "Orders", [("track-order", "Tracks an order")]),
        }
    )
    # A threshold no query clears: the router finds no agent whatever the model scores.
    await Channel.objects.filter(tenant=tenant).aupdate(vector_threshold=1.01)
    await sync_to_async(tenant.bump_registry_version)()
    response = await post(body(("user", "Why is my invoice so high?")), turn="lost")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "AGENT_NOT_FOUND"

    turn = await Turn.objects.aget(turn_id="lost")
    decision = await RoutingDecision.objects.aget(turn=turn)
    assert decision.chosen_agent == ""
    assert {c["agent"] for c in decision.candidates} == {"billing-agent", "order-agent"}
    assert decision.reason and decision.confidence is not None

    turn_page = await sync_to_async(admin_client.get)(f"/admin/conversations/turn/{turn.pk}/change/")
    assert f"/admin/routing/routingdecision/{decision.pk}/change/" in turn_page.content.decode()
    listed = await sync_to_async(admin_client.get)("/admin/routing/routingdecision/?outcome=none")
    assert [d.pk for d in listed.context["cl"].result_list] == [decision.pk]
    shown = await sync_to_async(admin_client.get)(f"/admin/routing/routingdecision/{decision.pk}/change/")
    assert "billing-agent" in shown.content.decode() and "order-agent" in shown.content.decode()


async def test_routed_answer_sends_a_confidence_between_zero_and_one(arc_agent):
    agent = await arc_agent()
    await channel(
        {
            "billing-agent": (
                agent.address,
                "Answers questions about bills and invoices",
                [("view-bill", "Shows the bill")],
            ),
            "order-agent": (agent.address, "Helps customers buy products", [("place-order", "Places an order")]),
        }
    )
    response = await post(body(("user", "Why is my invoice so high this month?")))
    assert response.status_code == 200, response.content
    confidence = float(response["x-routing-confidence"])
    assert 0.0 <= confidence <= 1.0
    turn = await Turn.objects.aget(turn_id="turn-1")
    decision = await RoutingDecision.objects.aget(turn=turn)
    assert decision.confidence == pytest.approx(confidence, abs=1e-3)
