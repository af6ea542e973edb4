"""Streaming: SSE chat endpoint and the Arc-protocol WebSocket server at /subscriptions."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets
from channels.testing import WebsocketCommunicator

from agents.client import AGENT_SUBSCRIPTION
from agents.models import ApiKey, Tenant
from conversations.models import Turn
from lmos_runtime.asgi import application
from tests.support import agents
from tests.support.arc_frames import StrictCommunicator, assert_arc_frame
from tests.test_chat_api import body, post, registry

pytestmark = pytest.mark.django_db(transaction=True)


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    return await predicate()


def stream_url(tenant="acme", conversation="conv-1") -> str:
    return f"/lmos/runtime/apis/v1/{tenant}/chat/{conversation}/stream"


async def test_agent_streaming_three_messages_arrives_as_three_events_in_order(arc_agent):
    agent = await arc_agent(agents.several("one", "two", "three", gap=0.05))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(stream_url(), body())
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    text = b"".join([chunk async for chunk in response.streaming_content]).decode()
    events = parse_sse(text)
    assert [e for e, _ in events] == ["message", "message", "message", "done"]
    assert [d["content"] for _, d in events[:3]] == ["one", "two", "three"]
    assert events[3][1]["agent"] == "billing-agent" and events[3][1]["turnId"] == "turn-1"
    turn = await Turn.objects.aget()
    assert turn.status == "completed"
    assert [m["content"] for m in turn.agent_messages] == ["one", "two", "three"]
    assert turn.answer["content"] == "one"


async def test_stream_errors_before_the_first_message_are_json_with_status(arc_agent):
    agent = await arc_agent(agents.error_frame())
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(stream_url(), body())
    assert response.status_code == 502
    assert response.json()["errorCode"] == "AGENT_CLIENT_EXCEPTION"
    assert (await post(stream_url(), body(), turn=None)).status_code == 400


async def test_stream_error_after_a_message_is_an_error_event(arc_agent):
    async def then_fail(request, headers):
        from tests.support.arc_server import SendError, agent_result

        yield agent_result("partial")
        yield SendError("agent broke")

    agent = await arc_agent(then_fail)
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(stream_url(), body())
    events = parse_sse(b"".join([c async for c in response.streaming_content]).decode())
    assert [e for e, _ in events] == ["message", "error"]
    assert events[1][1]["errorCode"] == "AGENT_CLIENT_EXCEPTION"
    assert (await Turn.objects.aget()).status == "failed"


async def test_sse_over_real_daphne_and_disconnect_cancels_the_agent_call(arc_agent, live_daphne):
    fast = await arc_agent(agents.several("a", "b", "c"))
    slow = await arc_agent(agents.several("first", "never", gap=3.0))
    await registry({"billing-agent": fast.address}, tenant="sse1", fallback="billing-agent")
    await registry({"billing-agent": slow.address}, tenant="sse2", fallback="billing-agent")
    headers = {"x-turn-id": "t1", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=live_daphne, timeout=10) as client:
        response = await client.post(stream_url("sse1"), content=json.dumps(body()), headers=headers)
        assert response.status_code == 200
        assert [d["content"] for e, d in parse_sse(response.text) if e == "message"] == ["a", "b", "c"]

        async with client.stream("POST", stream_url("sse2"), content=json.dumps(body()), headers=headers) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    assert json.loads(line[5:])["content"] == "first"
                    break
        # The client is gone: the agent's subscription is cancelled and the turn stored so.
    assert await wait_for(lambda: _async_value(slow.cancelled == 1), 6)

    async def cancelled() -> bool:
        return await Turn.objects.filter(tenant__tenant_id="sse2", status="cancelled").aexists()

    assert await wait_for(cancelled, 6)


async def _async_value(value):
    return value


# --- the Arc WebSocket server --------------------------------------------------------------


def arc_request(text: str, *, tenant="acme", channel="web", conversation="c1", turn="t1", subset=None) -> dict:
    system = [{"key": "tenantId", "value": tenant}, {"key": "channelId", "value": channel}]
    if subset:
        system.append({"key": "subset", "value": subset})
    return {
        "messages": [{"role": "user", "content": text, "format": "text"}],
        "conversationContext": {"conversationId": conversation, "turnId": turn},
        "systemContext": system,
        "userContext": {"userId": "u1", "profile": []},
    }


def subscribe(sub_id: str, request: dict, agent_name: str | None = None) -> dict:
    return {
        "type": "subscribe",
        "id": sub_id,
        "payload": {"query": AGENT_SUBSCRIPTION, "variables": {"agentName": agent_name, "request": request}},
    }


async def ws_connect(headers=None, payload=None) -> StrictCommunicator:
    communicator = StrictCommunicator(
        application, "/subscriptions", subprotocols=["graphql-transport-ws"], headers=headers or []
    )
    connected, subprotocol = await communicator.connect()
    assert connected
    assert subprotocol == "graphql-transport-ws"
    await communicator.send_json_to({"type": "connection_init", "payload": payload or {}})
    assert await communicator.receive_json_from() == {"type": "connection_ack"}
    return communicator


async def test_websocket_turn_sends_a_next_frame_per_message_then_complete(arc_agent):
    agent = await arc_agent(agents.several("one", "two"))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    ws = await ws_connect()
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    await ws.send_json_to(subscribe("s1", arc_request("hello")))
    frames = [await ws.receive_json_from(timeout=5) for _ in range(3)]
    assert [f["type"] for f in frames] == ["next", "next", "complete"]
    assert all(f["id"] == "s1" for f in frames)
    assert [f["payload"]["data"]["agent"]["messages"][0]["content"] for f in frames[:2]] == ["one", "two"]
    turn = await Turn.objects.aget()
    assert turn.turn_id == "t1" and turn.status == "completed" and turn.conversation_id
    await ws.disconnect()


async def test_two_subscriptions_on_one_socket_run_concurrently(arc_agent):
    # Each agent answers "together" only if the other one's call arrived while it waited:
    # with the subscriptions run one after the other the first would answer "alone".
    arrived = {"billing": asyncio.Event(), "contracts": asyncio.Event()}
    billing = await arc_agent(agents.rendezvous("billing: ", arrived, "billing", "contracts", wait=3))
    contracts = await arc_agent(agents.rendezvous("contracts: ", arrived, "contracts", "billing", wait=3))
    await registry({"billing-agent": billing.address, "contracts-agent": contracts.address}, fallback="billing-agent")
    ws = await ws_connect()
    await ws.send_json_to(subscribe("a", arc_request("q1", turn="t1"), agent_name="billing-agent"))
    await ws.send_json_to(subscribe("b", arc_request("q2", turn="t2"), agent_name="contracts-agent"))
    frames = [await ws.receive_json_from(timeout=10) for _ in range(4)]
    by_id = {}
    for frame in frames:
        by_id.setdefault(frame["id"], []).append(frame)
    assert by_id["a"][0]["payload"]["data"]["agent"]["messages"][0]["content"] == "billing: q1 (together)"
    assert by_id["b"][0]["payload"]["data"]["agent"]["messages"][0]["content"] == "contracts: q2 (together)"
    await ws.disconnect()


async def test_websocket_errors_are_error_frames(arc_agent):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    ws = await ws_connect()
    await ws.send_json_to(subscribe("x", arc_request("hi", tenant="bad tenant")))
    frame = await ws.receive_json_from(timeout=5)
    assert frame["type"] == "error" and frame["payload"][0]["extensions"]["errorCode"] == "INVALID_REQUEST"
    await ws.send_json_to(subscribe("y", arc_request("hi"), agent_name="ghost"))
    frame = await ws.receive_json_from(timeout=5)
    assert frame["type"] == "error" and frame["payload"][0]["extensions"]["errorCode"] == "AGENT_NOT_FOUND"
    await ws.disconnect()


async def test_websocket_disconnect_cancels_the_agent_call_and_stores_cancelled(arc_agent):
    agent = await arc_agent(agents.hang())
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    ws = await ws_connect()
    await ws.send_json_to(subscribe("s", arc_request("hello")))

    async def subscribed() -> bool:
        return bool(agent.received)

    assert await wait_for(subscribed)
    await ws.disconnect()

    async def cancelled() -> bool:
        return await Turn.objects.filter(status="cancelled").aexists() and agent.cancelled == 1

    assert await wait_for(cancelled)


async def test_websocket_client_complete_cancels_that_subscription(arc_agent):
    agent = await arc_agent(agents.hang())
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    ws = await ws_connect()
    await ws.send_json_to(subscribe("s", arc_request("hello")))

    async def subscribed() -> bool:
        return bool(agent.received)

    assert await wait_for(subscribed)
    await ws.send_json_to({"type": "complete", "id": "s"})

    async def cancelled() -> bool:
        return agent.cancelled == 1 and await Turn.objects.filter(status="cancelled").aexists()

    assert await wait_for(cancelled)
    await ws.disconnect()


async def test_websocket_subscribe_before_init_and_garbage_close_the_socket():
    communicator = WebsocketCommunicator(application, "/subscriptions", subprotocols=["graphql-transport-ws"])
    await communicator.connect()
    await communicator.send_json_to(subscribe("s", arc_request("hi")))
    assert (await communicator.receive_output(timeout=5))["code"] == 4401
    communicator = WebsocketCommunicator(application, "/subscriptions")
    connected, subprotocol = await communicator.connect()
    assert connected and subprotocol is None  # no subprotocol asked, none echoed
    await communicator.send_to(text_data="not json")
    assert (await communicator.receive_output(timeout=5))["code"] == 4400


async def test_websocket_origin_is_checked_only_when_sent(settings):
    settings.CORS_ALLOWED_ORIGINS_RAW = ["https://good.example"]
    bad = WebsocketCommunicator(application, "/subscriptions", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await bad.connect()
    assert not connected
    good = WebsocketCommunicator(application, "/subscriptions", headers=[(b"origin", b"https://good.example")])
    assert (await good.connect())[0]
    await good.disconnect()
    none = WebsocketCommunicator(application, "/subscriptions")
    assert (await none.connect())[0]
    await none.disconnect()


async def test_websocket_api_key_from_connection_init(arc_agent, settings):
    from asgiref.sync import sync_to_async

    settings.REQUIRE_API_KEYS = True
    agent = await arc_agent()
    tenant = await registry({"billing-agent": agent.address}, fallback="billing-agent")
    _, key = await sync_to_async(ApiKey.generate)(tenant=tenant)
    other = await Tenant.objects.acreate(tenant_id="other")
    _, other_key = await sync_to_async(ApiKey.generate)(tenant=other)
    ws = await ws_connect()
    await ws.send_json_to(subscribe("a", arc_request("hi")))
    assert (await ws.receive_json_from(timeout=5))["payload"][0]["extensions"]["errorCode"] == "UNAUTHORIZED"
    await ws.disconnect()
    ws = await ws_connect(payload={"Authorization": f"Bearer {other_key}"})
    await ws.send_json_to(subscribe("a", arc_request("hi")))
    assert (await ws.receive_json_from(timeout=5))["payload"][0]["extensions"]["errorCode"] == "FORBIDDEN"
    await ws.disconnect()
    ws = await ws_connect(payload={"Authorization": f"Bearer {key}"})
    await ws.send_json_to(subscribe("a", arc_request("hi")))
    assert (await ws.receive_json_from(timeout=5))["type"] == "next"
    await ws.disconnect()


async def test_real_websocket_client_against_daphne(arc_agent, live_daphne):
    agent = await arc_agent(agents.several("x", "y"))
    await registry({"billing-agent": agent.address}, tenant="wsreal", fallback="billing-agent")
    uri = live_daphne.replace("http://", "ws://") + "/subscriptions"
    async with websockets.connect(uri, subprotocols=["graphql-transport-ws"], proxy=None) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        await ws.send(json.dumps(subscribe("1", arc_request("hi", tenant="wsreal"))))
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
    for frame in frames:
        assert_arc_frame(frame, {"1": AGENT_SUBSCRIPTION})
    assert [f["type"] for f in frames] == ["next", "next", "complete"]
    assert [f["payload"]["data"]["agent"]["messages"][0]["content"] for f in frames[:2]] == ["x", "y"]
