"""Arc results by their type: a real Arc agent on loopback that sends INTERMEDIATE_MESSAGE,
EVENT, MESSAGE and complete, read through REST, SSE and our own /subscriptions server."""

from __future__ import annotations

import json

import pytest
from graphql import parse, validate

from agents.arc_schema import arc_schema
from agents.client import AGENT_SUBSCRIPTION, MAX_EVENT_CHARS, MAX_EVENTS
from conversations.models import Turn
from lmos_runtime.asgi import application
from tests.support import agents
from tests.support.arc_frames import StrictCommunicator
from tests.support.arc_server import agent_result
from tests.test_chat_api import body, error_of, post, registry, url
from tests.test_streaming import arc_request, parse_sse, stream_url

pytestmark = pytest.mark.django_db(transaction=True)

INTERMEDIATE = "One moment, I am checking your invoice."
ANSWER = "Your latest invoice is 48.90 EUR."


async def billing(arc_agent, behaviour):
    agent = await arc_agent(behaviour)
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    return agent


# --- REST -------------------------------------------------------------------------------------


async def test_rest_answer_is_the_message_result_not_the_intermediate_one(arc_agent):
    await billing(arc_agent, agents.working_then_answer(ANSWER))
    response = await post(url(), body())
    assert response.status_code == 200, response.content
    assert response.json()["content"] == ANSWER
    turn = await Turn.objects.aget()
    assert turn.answer["content"] == ANSWER
    assert [(m["type"], m["content"]) for m in turn.agent_messages] == [
        ("INTERMEDIATE_MESSAGE", INTERMEDIATE),
        ("MESSAGE", ANSWER),
    ]
    assert all("ToolCalled" not in m["content"] for m in turn.agent_messages)
    [event] = turn.agent_events
    assert event["type"] == "EVENT" and event["afterMessages"] == 1
    assert event["context"] == [{"key": "event", "value": "ToolCalled"}]


async def test_agent_that_sends_only_intermediate_messages_answers_with_the_last(arc_agent):
    await billing(
        arc_agent,
        agents.typed(
            agent_result("checking...", type="INTERMEDIATE_MESSAGE"),
            agent_result("still checking...", type="INTERMEDIATE_MESSAGE"),
        ),
    )
    response = await post(url(), body())
    assert response.status_code == 200, response.content
    assert response.json()["content"] == "still checking..."


async def test_result_without_type_is_a_message_as_older_agents_send(arc_agent):
    await billing(
        arc_agent,
        agents.typed(
            agent_result("late intermediate", type="INTERMEDIATE_MESSAGE"),
            agent_result("untyped answer", type=None),
            agent_result("second answer", type="MESSAGE"),
        ),
    )
    response = await post(url(), body())
    assert response.json()["content"] == "untyped answer"


async def test_event_results_are_never_the_answer(arc_agent):
    await billing(arc_agent, agents.typed(agents.event_result("Thinking"), agent_result(ANSWER)))
    response = await post(url(), body())
    assert response.json()["content"] == ANSWER


async def test_agent_sending_only_events_is_a_502(arc_agent):
    await billing(arc_agent, agents.typed(agents.event_result("Thinking")))
    response = await post(url(), body())
    assert response.status_code == 502
    assert error_of(response)["errorCode"] == "AGENT_CLIENT_EXCEPTION"


async def test_error_result_fails_the_turn_with_502_and_the_agents_message(arc_agent):
    agent = await billing(
        arc_agent,
        agents.typed(
            agent_result("one moment", type="INTERMEDIATE_MESSAGE"),
            agent_result("The invoice service is down, please try later.", type="ERROR"),
            agent_result("never read"),
        ),
    )
    response = await post(url(), body())
    assert response.status_code == 502
    error = error_of(response)
    assert error == {"errorCode": "AGENT_CLIENT_EXCEPTION", "message": "The invoice service is down, please try later."}
    turn = await Turn.objects.aget()
    assert turn.status == "failed" and turn.error_code == "AGENT_CLIENT_EXCEPTION"
    # A retry of the failed turn calls the agent again (ERROR does not open the circuit).
    assert (await post(url(), body())).status_code == 502
    assert len(agent.received) == 2


async def test_routed_agent_name_is_sent_only_with_agent_send_name(arc_agent, settings):
    agent = await billing(arc_agent, agents.echo())
    await post(url(), body(), turn="t1")
    assert agent.received[-1][1]["agentName"] is None
    settings.AGENT_SEND_NAME = True
    await post(url(), body(), turn="t2")
    assert agent.received[-1][1]["agentName"] == "billing-agent"


def test_client_subscription_is_valid_against_the_arc_schema():
    assert validate(arc_schema(), parse(AGENT_SUBSCRIPTION)) == []


# --- SSE --------------------------------------------------------------------------------------


async def sse(path: str) -> list[tuple[str, dict]]:
    response = await post(path, body())
    assert response.status_code == 200, response.content
    return parse_sse(b"".join([chunk async for chunk in response.streaming_content]).decode())


async def test_sse_streams_by_type_and_leaves_events_out_by_default(arc_agent):
    await billing(arc_agent, agents.working_then_answer(ANSWER))
    events = await sse(stream_url())
    assert [name for name, _ in events] == ["intermediate", "message", "done"]
    assert events[0][1] == {"content": INTERMEDIATE, "anonymizationEntities": []}
    assert events[1][1]["content"] == ANSWER


async def test_sse_streams_agent_events_when_asked(arc_agent):
    await billing(arc_agent, agents.working_then_answer(ANSWER))
    events = await sse(stream_url() + "?agentEvents=true")
    assert [name for name, _ in events] == ["intermediate", "agent-event", "message", "done"]
    event = events[1][1]
    assert '"ToolCalled"' in event["messages"][0]["content"]
    assert event["context"] == [{"key": "event", "value": "ToolCalled"}]
    assert "content" not in event  # an event is never a text message


async def test_sse_replay_of_a_completed_turn_keeps_the_types_and_the_order(arc_agent):
    agent = await billing(
        arc_agent,
        agents.typed(
            agents.event_result("Started"),
            agent_result("one moment", type="INTERMEDIATE_MESSAGE"),
            agents.event_result("ToolCalled"),
            agent_result(ANSWER),
            agents.event_result("Finished"),
        ),
    )
    first = await sse(stream_url() + "?agentEvents=true")
    again = await sse(stream_url() + "?agentEvents=true")
    assert [n for n, _ in first] == ["agent-event", "intermediate", "agent-event", "message", "agent-event", "done"]
    assert again == first
    assert [n for n, _ in await sse(stream_url())] == ["intermediate", "message", "done"]
    assert len(agent.received) == 1


async def test_sse_agent_events_flag_must_be_a_boolean(arc_agent):
    await billing(arc_agent, agents.echo())
    response = await post(stream_url() + "?agentEvents=maybe", body())
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "INVALID_REQUEST"


async def test_sse_error_result_after_an_intermediate_message_is_an_error_event(arc_agent):
    await billing(
        arc_agent,
        agents.typed(agent_result("one moment", type="INTERMEDIATE_MESSAGE"), agent_result("no invoice", type="ERROR")),
    )
    events = await sse(stream_url())
    assert [name for name, _ in events] == ["intermediate", "error"]
    assert events[1][1] == {"errorCode": "AGENT_CLIENT_EXCEPTION", "message": "no invoice"}


# --- the /subscriptions server ----------------------------------------------------------------


async def ws() -> StrictCommunicator:
    communicator = StrictCommunicator(application, "/subscriptions", subprotocols=["graphql-transport-ws"])
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "connection_init"})
    assert await communicator.receive_json_from() == {"type": "connection_ack"}
    return communicator


def subscribe(sub_id: str, query: str, request: dict, **variables) -> dict:
    return {
        "type": "subscribe",
        "id": sub_id,
        "payload": {"query": query, "variables": {"request": request, **variables}},
    }


async def frames_until_done(communicator: StrictCommunicator) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] not in ("complete", "error"):
        frames.append(await communicator.receive_json_from(timeout=5))
    return frames


async def test_subscription_passes_result_types_through(arc_agent):
    await billing(arc_agent, agents.working_then_answer(ANSWER))
    communicator = await ws()
    await communicator.send_json_to(subscribe("s1", AGENT_SUBSCRIPTION, arc_request("my invoice?")))
    frames = await frames_until_done(communicator)
    assert [f["type"] for f in frames] == ["next", "next", "next", "complete"]
    results = [f["payload"]["data"]["agent"] for f in frames[:3]]
    assert [r["type"] for r in results] == ["INTERMEDIATE_MESSAGE", "EVENT", "MESSAGE"]
    assert results[0]["messages"][0]["content"] == INTERMEDIATE
    assert '"ToolCalled"' in results[1]["messages"][0]["content"]
    assert results[1]["context"] == [{"key": "event", "value": "ToolCalled"}]
    assert results[2]["messages"] == [{"content": ANSWER, "format": "text", "role": "assistant"}]
    await communicator.disconnect()


async def test_subscription_answer_holds_exactly_the_selected_fields(arc_agent):
    await billing(arc_agent, agents.working_then_answer(ANSWER))
    query = """
      subscription Ask($request: AgentRequestInput!) {
        agent(request: $request) { kind: type ...Texts }
      }
      fragment Texts on AgentResult { messages { content } }
    """
    communicator = await ws()
    await communicator.send_json_to(subscribe("s1", query, arc_request("my invoice?")))
    frames = await frames_until_done(communicator)
    results = [f["payload"]["data"]["agent"] for f in frames[:-1]]
    assert results == [
        {"kind": "INTERMEDIATE_MESSAGE", "messages": [{"content": INTERMEDIATE}]},
        {"kind": "EVENT", "messages": [{"content": results[1]["messages"][0]["content"]}]},
        {"kind": "MESSAGE", "messages": [{"content": ANSWER}]},
    ]
    await communicator.disconnect()


async def test_subscription_with_the_request_inline_as_arc_view_sends_it(arc_agent):
    await billing(arc_agent, agents.echo("billing: "))
    query = """subscription {
      agent(request: {
        conversationContext: {conversationId: "c9", turnId: "t9"},
        systemContext: [{key: "tenantId", value: "acme"}, {key: "channelId", value: "web"}],
        userContext: {userId: "u1", profile: []},
        messages: [{role: "user", content: "hello", format: "text"}]
      }) { messages { content } }
    }"""
    communicator = await ws()
    await communicator.send_json_to({"type": "subscribe", "id": "s", "payload": {"query": query}})
    frames = await frames_until_done(communicator)
    assert frames[0]["payload"]["data"]["agent"] == {"messages": [{"content": "billing: hello"}]}
    assert (await Turn.objects.aget()).turn_id == "t9"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("subscription { agent(request: $request) { messages { content }", "Syntax Error"),
        (AGENT_SUBSCRIPTION.replace("toolCalls { name arguments }", "mood"), "Cannot query field 'mood'"),
        (AGENT_SUBSCRIPTION.replace("content format role", "content colour"), "Cannot query field 'colour'"),
        ("query { agent { names } }", "Only the agent subscription"),
        ("", "needs a query"),
    ],
)
async def test_bad_subscription_gets_an_error_frame_naming_the_problem(arc_agent, query, problem):
    agent = await billing(arc_agent, agents.echo())
    communicator = await ws()
    await communicator.send_json_to(subscribe("bad", query, arc_request("hi")))
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["type"] == "error" and frame["id"] == "bad"
    assert problem in frame["payload"][0]["message"], frame
    assert frame["payload"][0]["extensions"] == {"errorCode": "INVALID_REQUEST"}
    assert agent.received == []
    # The socket stays usable for a valid subscription.
    await communicator.send_json_to(subscribe("good", AGENT_SUBSCRIPTION, arc_request("hi")))
    assert [f["type"] for f in await frames_until_done(communicator)] == ["next", "complete"]
    await communicator.disconnect()


async def test_variables_that_do_not_fit_the_schema_get_an_error_frame(arc_agent):
    await billing(arc_agent, agents.echo())
    communicator = await ws()
    request = arc_request("hi")
    del request["conversationContext"]
    await communicator.send_json_to(subscribe("v", AGENT_SUBSCRIPTION, request))
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["type"] == "error" and "conversationContext" in frame["payload"][0]["message"]
    await communicator.disconnect()


async def test_subscription_error_result_is_an_error_frame_with_the_agents_message(arc_agent):
    await billing(
        arc_agent,
        agents.typed(agent_result("one moment", type="INTERMEDIATE_MESSAGE"), agent_result("no invoice", type="ERROR")),
    )
    communicator = await ws()
    await communicator.send_json_to(subscribe("e", AGENT_SUBSCRIPTION, arc_request("hi")))
    frames = await frames_until_done(communicator)
    assert [f["type"] for f in frames] == ["next", "error"]
    assert frames[0]["payload"]["data"]["agent"]["type"] == "INTERMEDIATE_MESSAGE"
    assert frames[1]["payload"] == [{"message": "no invoice", "extensions": {"errorCode": "AGENT_CLIENT_EXCEPTION"}}]
    await communicator.disconnect()


# --- bounds on stored events --------------------------------------------------------------------


async def test_stored_events_are_bounded_in_count_and_size(arc_agent):
    many = [agents.event_result(f"e{i}") for i in range(MAX_EVENTS + 5)]
    huge = agents.event_result("big", blob='"quoted" ' * MAX_EVENT_CHARS)
    await billing(arc_agent, agents.typed(huge, *many, agent_result(ANSWER)))
    events = await sse(stream_url() + "?agentEvents=true")
    streamed = [data for name, data in events if name == "agent-event"]
    assert len(streamed) == MAX_EVENTS
    assert streamed[0]["truncated"] is True and streamed[0]["preview"].startswith('{"messages"')
    assert len(streamed[0]["preview"]) > MAX_EVENT_CHARS // 3
    assert events[-2] == ("message", {"content": ANSWER, "anonymizationEntities": []})
    turn = await Turn.objects.aget()
    assert len(turn.agent_events) == MAX_EVENTS and turn.agent_events == streamed
    assert all(len(json.dumps(e)) <= MAX_EVENT_CHARS for e in turn.agent_events)


def test_strict_frame_check_rejects_what_a_strict_arc_client_rejects():
    from tests.support.arc_frames import assert_arc_frame

    queries = {"1": "subscription($r: AgentRequestInput!) { agent(request: $r) { type messages { content } } }"}

    def next_frame(result: dict) -> dict:
        return {"type": "next", "id": "1", "payload": {"data": {"agent": result}}}

    assert_arc_frame(next_frame({"type": "MESSAGE", "messages": [{"content": "x"}]}), queries)
    for bad in (
        {"type": "ASSISTANT", "messages": [{"content": "x"}]},
        {"type": "MESSAGE", "messages": [{"content": "x"}], "toolCalls": []},
        {"type": "MESSAGE", "messages": [{"content": "x", "role": "assistant"}]},
        {"messages": [{"content": "x"}]},
    ):
        with pytest.raises(AssertionError):
            assert_arc_frame(next_frame(bad), queries)
    with pytest.raises(AssertionError):
        assert_arc_frame({"type": "complete", "id": "never-subscribed"}, queries)


async def test_admin_turn_view_shows_intermediate_messages_marked(arc_agent):
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import User
    from django.test import Client

    await billing(arc_agent, agents.working_then_answer(ANSWER))
    assert (await post(url(), body())).status_code == 200
    turn = await Turn.objects.aget()

    def page() -> str:
        admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
        client = Client()
        client.force_login(admin_user)
        response = client.get(f"/admin/conversations/turn/{turn.pk}/change/")
        assert response.status_code == 200
        return response.content.decode()

    html = await sync_to_async(page)()
    assert INTERMEDIATE in html and "INTERMEDIATE_MESSAGE" in html
