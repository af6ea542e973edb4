"""The chat path end to end: HTTP API → conversation service → real Arc agents on loopback."""

from __future__ import annotations

import asyncio
import json
import time

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


def body(content: str = "Why is my bill so high?", **extra) -> dict:
    data = {
        "inputContext": {"messages": [{"role": "user", "format": "text", "content": content}]},
        "systemContext": {"channelId": "web"},
        "userContext": {"userId": "user456"},
    }
    for key, value in extra.items():
        # inputContext entries are merged; other sections are replaced as given.
        data[key] = {**data[key], **value} if key == "inputContext" else value
    return data


async def post(
    path: str,
    data,
    *,
    turn: str | None = "turn-1",
    subset: str | None = "stable",
    content_type: str = "application/json",
    headers: dict | None = None,
):
    client = AsyncClient()
    all_headers = dict(headers or {})
    if turn is not None:
        all_headers["x-turn-id"] = turn
    if subset is not None:
        all_headers["x-subset"] = subset
    payload = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return await client.post(path, payload, content_type=content_type, headers=all_headers)


def url(tenant: str = "acme", conversation: str = "conv-1", prefix: str = PREFIXES[0]) -> str:
    return f"{prefix}/{tenant}/chat/{conversation}/message"


async def registry(agents_by_name: dict[str, str], *, tenant="acme", channel="web", subset="stable", fallback=""):
    tenant_obj, channel_obj = await sync_to_async(make_registry)(tenant, channel, subset, agents_by_name)
    if fallback:
        await Channel.objects.filter(pk=channel_obj.pk).aupdate(fallback_agent=fallback)
        await sync_to_async(tenant_obj.bump_registry_version)()
    return tenant_obj


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    data = response.json()
    assert set(data) == {"errorCode", "message"}
    return data


# --- the happy path -----------------------------------------------------------------------


async def test_the_lmos_curl_of_the_design_gets_the_agents_answer(arc_agent):
    agent = await arc_agent(agents.echo("billing says: "))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(
        url("acme", "conv-1"),
        {
            "inputContext": {"messages": [{"role": "user", "format": "text", "content": "<user query>"}]},
            "systemContext": {"channelId": "web"},
            "userContext": {"userId": "user456"},
        },
        turn="turn-1",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"content": "billing says: <user query>", "anonymizationEntities": []}
    assert response["x-agent-name"] == "billing-agent"
    assert response["x-turn-id"] == "turn-1"
    assert response["x-routing-strategy"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_both_prefixes_serve_the_chat(arc_agent, prefix):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(url(prefix=prefix), body(inputContext={"explicitAgent": "billing-agent"}))
    assert response.status_code == 200
    assert response.json()["content"] == "echo: Why is my bill so high?"


async def test_agent_receives_the_arc_request_exactly(arc_agent):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address})
    data = body(
        "second question",
        inputContext={
            "messages": [
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer", "format": "text"},
                {"role": "user", "content": "second question", "turnId": "turn-2"},
            ],
            "explicitAgent": "billing-agent",
            "anonymizationEntities": [{"type": "PHONE", "value": "0123", "replacement": "<PHONE>"}],
        },
        systemContext={"channelId": "web", "contextParams": {"region": "north", "retries": 3}},
        userContext={"userId": "user456", "userToken": "tok", "contextParams": [{"key": "lang", "value": "de"}]},
    )
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await post(url(), data, turn="turn-2", headers={"traceparent": traceparent})
    assert response.status_code == 200, response.content
    headers, variables = agent.received[-1]
    assert headers["x-subset"] == "stable"
    assert headers["traceparent"].startswith("00-0af7")
    assert headers["sec-websocket-protocol"] == "graphql-transport-ws"
    assert variables["agentName"] is None
    request = variables["request"]
    assert request["messages"] == [
        {"role": "user", "content": "first question", "format": "text"},
        {"role": "assistant", "content": "first answer", "format": "text"},
        {"role": "user", "content": "second question", "format": "text", "turnId": "turn-2"},
    ]
    assert request["conversationContext"] == {
        "conversationId": "conv-1",
        "turnId": "turn-2",
        "anonymizationEntities": [{"type": "PHONE", "value": "0123", "replacement": "<PHONE>"}],
    }
    assert request["systemContext"] == [{"key": "region", "value": "north"}, {"key": "retries", "value": "3"}]
    assert request["userContext"] == {
        "userId": "user456",
        "userToken": "tok",
        "profile": [{"key": "lang", "value": "de"}],
    }


async def test_subset_header_reaches_the_agent_and_selects_the_registry(arc_agent):
    stable = await arc_agent(agents.echo("stable: "))
    canary = await arc_agent(agents.echo("canary: "))
    await registry({"billing-agent": stable.address}, subset="stable", fallback="billing-agent")
    await registry({"billing-agent": canary.address}, subset="canary", fallback="billing-agent")
    response = await post(url(), body(), subset="canary")
    assert response.json()["content"].startswith("canary: ")
    assert canary.received[-1][0]["x-subset"] == "canary"
    response = await post(url(conversation="c2"), body(), subset=None)
    assert response.json()["content"].startswith("stable: ")


async def test_multi_turn_conversation_is_stored_in_order_and_readable_with_a_key(arc_agent):
    agent = await arc_agent()
    tenant = await registry({"billing-agent": agent.address}, fallback="billing-agent")
    for index in range(3):
        response = await post(url(), body(f"question {index}"), turn=f"t{index}")
        assert response.status_code == 200
    _, raw = await sync_to_async(ApiKey.generate)(tenant=tenant)
    history = await AsyncClient().get("/apis/v1/acme/conversations/conv-1", headers={"Authorization": f"Bearer {raw}"})
    assert history.status_code == 200
    data = history.json()
    assert data["tenantId"] == "acme" and data["conversationId"] == "conv-1" and data["channelId"] == "web"
    assert [t["turnId"] for t in data["turns"]] == ["t0", "t1", "t2"]
    assert all(t["status"] == "completed" and t["agent"] == "billing-agent" for t in data["turns"])
    assert data["turns"][2]["answer"] == {"content": "echo: question 2", "anonymizationEntities": []}
    assert data["turns"][0]["messages"][-1]["content"] == "question 0"
    assert await RoutingDecision.objects.filter(tenant=tenant).acount() == 3
    conversation = await Conversation.objects.aget(tenant=tenant, conversation_id="conv-1")
    assert conversation.current_agent == "billing-agent"


async def test_history_needs_the_tenants_key(arc_agent):
    agent = await arc_agent()
    tenant = await registry({"billing-agent": agent.address}, fallback="billing-agent")
    other = await Tenant.objects.acreate(tenant_id="other")
    _, other_key = await sync_to_async(ApiKey.generate)(tenant=other)
    assert (await post(url(), body())).status_code == 200
    client = AsyncClient()
    path = "/apis/v1/acme/conversations/conv-1"
    assert error_of(await client.get(path))["errorCode"] == "UNAUTHORIZED"
    assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401
    forbidden = await client.get(path, headers={"Authorization": f"Bearer {other_key}"})
    assert forbidden.status_code == 403 and error_of(forbidden)["errorCode"] == "FORBIDDEN"
    _, key = await sync_to_async(ApiKey.generate)(tenant=tenant)
    missing = await client.get("/apis/v1/acme/conversations/nope", headers={"Authorization": f"Bearer {key}"})
    assert missing.status_code == 404


# --- idempotent turns ---------------------------------------------------------------------


async def test_retry_with_same_turn_id_returns_stored_answer_without_calling_agent(arc_agent):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    first = await post(url(), body())
    again = await post(url(), body())
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again["x-agent-name"] == "billing-agent"
    assert len(agent.received) == 1
    assert await Turn.objects.acount() == 1


async def test_same_turn_id_with_a_different_body_is_a_conflict(arc_agent):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    assert (await post(url(), body("one"))).status_code == 200
    conflict = await post(url(), body("two"))
    assert conflict.status_code == 409
    assert error_of(conflict)["errorCode"] == "TURN_CONFLICT"
    # Key order and whitespace do not make a different body.
    same = json.dumps(json.loads(json.dumps(body("one"))), indent=3, sort_keys=True)
    assert (await post(url(), same)).status_code == 200


async def test_concurrent_duplicates_wait_for_the_first_and_all_get_its_result(arc_agent):
    agent = await arc_agent(agents.echo(delay=0.5))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    responses = await asyncio.gather(*(post(url(), body()) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.content for r in responses}) == 1
    assert len(agent.received) == 1
    assert await Turn.objects.acount() == 1


async def test_retry_of_a_failed_turn_tries_again(arc_agent, settings):
    settings.AGENT_CONNECT_TIMEOUT = 1
    good = await arc_agent()
    failing = await arc_agent(agents.error_frame())
    tenant = await registry({"billing-agent": failing.address}, fallback="billing-agent")
    first = await post(url(), body())
    assert first.status_code == 502
    turn = await Turn.objects.aget()
    assert turn.status == "failed" and turn.error_code == "AGENT_CLIENT_EXCEPTION"
    # The agent is fixed (moved to a healthy address); the retry calls it.
    from agents.models import Agent

    await Agent.objects.filter(tenant=tenant).aupdate(address=good.address)
    await sync_to_async(tenant.bump_registry_version)()
    retry = await post(url(), body())
    assert retry.status_code == 200
    turn = await Turn.objects.aget()
    assert turn.status == "completed" and turn.attempts == 2 and turn.error_code == ""
    assert len(good.received) == 1


async def test_fifty_concurrent_turns_all_complete(arc_agent):
    agent = await arc_agent(agents.echo(delay=0.05))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    responses = await asyncio.gather(
        *(post(url(conversation=f"c{i % 10}"), body(f"q{i}"), turn=f"t{i}") for i in range(50))
    )
    assert [r.status_code for r in responses] == [200] * 50, [r.content for r in responses if r.status_code != 200]
    assert sorted(r.json()["content"] for r in responses) == sorted(f"echo: q{i}" for i in range(50))
    assert await Turn.objects.filter(status="completed").acount() == 50


# --- the error table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({"systemContext": {"channelId": "web"}, "userContext": {"userId": "u"}}, "inputContext"),
        (body(systemContext={}), "channelId"),
        (body(userContext={"userId": ""}), "userId"),
        (body(inputContext={"messages": []}), "messages"),
        (body(inputContext={"messages": [{"role": "robot", "content": "hi"}]}), "role"),
        (body(inputContext={"messages": [{"role": "user"}]}), "content"),
        (body(systemContext={"channelId": "web/../x"}), "channelId"),
        (body(systemContext={"channelId": "web", "contextParams": "x"}), "contextParams"),
        (body(inputContext={"messages": [None]}), "messages"),
        (body(inputContext={"anonymizationEntities": [None]}), "not null"),
    ],
)
async def test_bad_requests_are_400_invalid_request(data, fragment):
    response = await post(url(), data)
    assert response.status_code == 400
    error = error_of(response)
    assert error["errorCode"] == "INVALID_REQUEST"
    assert fragment in error["message"]
    assert await Turn.objects.acount() == 0


async def test_missing_turn_header_and_bad_ids_are_400():
    assert error_of(await post(url(), body(), turn=None))["message"] == "Header x-turn-id is required"
    assert (await post(url(), body(), turn="bad turn")).status_code == 400
    assert (await post(url(), body(), subset="a" * 129)).status_code == 400
    assert (await post(url(tenant="bad%20tenant"), body())).status_code == 400
    assert (await post(url(conversation="x" * 129), body())).status_code == 400


async def test_message_count_and_length_limits(settings):
    settings.MAX_MESSAGES = 3
    settings.MAX_MESSAGE_CHARS = 10
    many = body(inputContext={"messages": [{"role": "user", "content": "hi"}] * 4})
    assert error_of(await post(url(), many))["errorCode"] == "INVALID_REQUEST"
    long = body("x" * 11)
    response = await post(url(), long)
    assert response.status_code == 400 and "longer than 10" in error_of(response)["message"]


async def test_body_over_the_limit_is_413(settings):
    settings.MAX_REQUEST_BYTES = 2048
    response = await post(url(), body("x" * 4000))
    assert response.status_code == 413
    assert error_of(response)["errorCode"] == "PAYLOAD_TOO_LARGE"


async def test_non_json_content_type_is_415():
    response = await post(url(), json.dumps(body()), content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["errorCode"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_unknown_path_and_wrong_method_are_json_404_and_405():
    client = AsyncClient()
    for prefix in PREFIXES:
        missing = await client.get(f"{prefix}/acme/nothing/here")
        assert missing.status_code == 404 and error_of(missing)["errorCode"] == "NOT_FOUND"
        wrong = await client.get(url(prefix=prefix))
        assert wrong.status_code == 405 and error_of(wrong)["errorCode"] == "METHOD_NOT_ALLOWED"


async def test_no_routing_for_the_channel_is_404_agent_not_found(arc_agent):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address})
    response = await post(url(), body(systemContext={"channelId": "mobile"}))
    assert response.status_code == 404
    assert error_of(response)["errorCode"] == "AGENT_NOT_FOUND"


async def test_unknown_explicit_agent_is_404(arc_agent):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(url(), body(inputContext={"explicitAgent": "ghost-agent"}))
    assert response.status_code == 404
    assert "ghost-agent" in error_of(response)["message"]
    assert agent.received == []


async def test_explicit_agent_wins(arc_agent):
    billing = await arc_agent(agents.echo("billing: "))
    contracts = await arc_agent(agents.echo("contracts: "))
    await registry({"billing-agent": billing.address, "contracts-agent": contracts.address}, fallback="billing-agent")
    response = await post(url(), body(inputContext={"explicitAgent": "contracts-agent"}))
    assert response.json()["content"].startswith("contracts: ")
    assert response["x-routing-strategy"] == "explicit"


async def test_unreachable_agent_is_502(settings):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await registry({"billing-agent": f"127.0.0.1:{port}"}, fallback="billing-agent")
    response = await post(url(), body())
    assert response.status_code == 502
    assert error_of(response)["errorCode"] == "AGENT_CLIENT_EXCEPTION"
    turn = await Turn.objects.aget()
    assert turn.status == "failed" and turn.error_code == "AGENT_CLIENT_EXCEPTION"


@pytest.mark.parametrize(
    "behaviour", [agents.error_frame, agents.garbage, agents.close_early, agents.no_messages], ids=lambda b: b.__name__
)
async def test_agent_faults_are_502_at_once(arc_agent, settings, behaviour):
    settings.AGENT_TIMEOUT = 10
    agent = await arc_agent(behaviour())
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    started = time.monotonic()
    response = await post(url(), body())
    assert response.status_code == 502
    assert error_of(response)["errorCode"] == "AGENT_CLIENT_EXCEPTION"
    assert time.monotonic() - started < 5  # not a wait for the timeout
    assert (await Turn.objects.aget()).status == "failed"


async def test_agent_error_frame_message_is_reported(arc_agent):
    agent = await arc_agent(agents.error_frame("quota exceeded"))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    assert "quota exceeded" in error_of(await post(url(), body()))["message"]


async def test_slow_agent_is_504_after_agent_timeout(arc_agent, settings):
    settings.AGENT_TIMEOUT = 0.5
    agent = await arc_agent(agents.hang())
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    started = time.monotonic()
    response = await post(url(), body())
    assert response.status_code == 504
    assert error_of(response)["errorCode"] == "AGENT_TIMEOUT"
    assert time.monotonic() - started < 3
    turn = await Turn.objects.aget()
    assert turn.status == "failed" and turn.error_code == "AGENT_TIMEOUT"


async def test_api_keys_when_required(arc_agent, settings):
    settings.REQUIRE_API_KEYS = True
    agent = await arc_agent()
    tenant = await registry({"billing-agent": agent.address}, fallback="billing-agent")
    other = await Tenant.objects.acreate(tenant_id="other")
    _, key = await sync_to_async(ApiKey.generate)(tenant=tenant)
    _, other_key = await sync_to_async(ApiKey.generate)(tenant=other)
    assert error_of(await post(url(), body()))["errorCode"] == "UNAUTHORIZED"
    assert (await post(url(), body(), headers={"Authorization": "Bearer lmos_wrong"})).status_code == 401
    assert (await post(url(), body(), headers={"Authorization": f"Bearer {other_key}"})).status_code == 403
    ok = await post(url(), body(), headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    assert await Turn.objects.acount() == 1


async def test_agents_registry_view(arc_agent):
    await registry({"billing-agent": "h:1", "contracts-agent": "h:2"})
    response = await AsyncClient().get("/apis/v1/agents?tenantId=acme&channelId=web&subset=stable")
    assert response.status_code == 200
    data = response.json()
    assert data["subset"] == "stable"
    assert [a["name"] for a in data["agents"]] == ["billing-agent", "contracts-agent"]
    assert data["agents"][0]["capabilities"][0]["name"] == "billing-agent-cap"
    assert (await AsyncClient().get("/apis/v1/agents")).status_code == 400


async def test_turns_routing_and_agent_errors_are_counted_in_metrics(arc_agent):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    good = await arc_agent()
    await registry({"billing-agent": good.address}, tenant="metrics", fallback="billing-agent")
    bad = await arc_agent(agents.garbage())
    await registry({"billing-agent": bad.address}, tenant="metrics2", fallback="billing-agent")
    ok_before = sample("lmos_turns_total", tenant="metrics", channel="web", agent="billing-agent", status="ok")
    err_before = sample("lmos_agent_errors_total", kind="protocol")
    assert (await post(url(tenant="metrics"), body())).status_code == 200
    assert (await post(url(tenant="metrics2"), body())).status_code == 502
    assert sample("lmos_turns_total", tenant="metrics", channel="web", agent="billing-agent", status="ok") == (
        ok_before + 1
    )
    assert sample("lmos_agent_errors_total", kind="protocol") == err_before + 1
