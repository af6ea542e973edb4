"""Subscriptions share a pooled agent WebSocket. When it breaks (a frame that is not JSON,
an early close) before a subscription heard anything, the break is likely a neighbour's:
that subscription is sent once more on another connection, with the same turn id. One that
already heard from the agent, or that was alone on the socket, fails at once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from agents.client import AgentCall, agent_stream
from core.errors import AgentClientError
from tests.support.arc_server import SendRaw, agent_result


def _call(address: str, query: str) -> AgentCall:
    return AgentCall(
        address=address,
        subset="stable",
        messages=[{"role": "user", "content": query}],
        conversation_id="c1",
        turn_id=f"turn-{query}",
    )


async def _collect(call: AgentCall) -> list[dict]:
    return [result async for result in agent_stream(call)]


def _behaviour(seen: Counter, turn_ids: list[str], *, breaks: int, early_result: bool = False):
    async def behaviour(request, headers):
        query = request["request"]["messages"][-1]["content"]
        seen[query] += 1
        turn_ids.append(request["request"]["conversationContext"]["turnId"])
        if query == "bad" and seen[query] <= breaks:
            await asyncio.sleep(0.3)
            yield SendRaw("{not json")
            await asyncio.sleep(30)
            return
        if early_result:
            yield agent_result("first part")
        await asyncio.sleep(0.6)
        yield agent_result(f"{query} answered")

    return behaviour


@pytest.fixture
def one_socket(settings):
    settings.AGENT_POOL_SIZE = 1
    settings.AGENT_TIMEOUT = 10


async def test_a_subscription_that_heard_nothing_when_a_neighbour_broke_the_socket_is_sent_again(arc_agent, one_socket):
    seen, turn_ids = Counter(), []
    agent = await arc_agent(_behaviour(seen, turn_ids, breaks=1))
    good = asyncio.create_task(_collect(_call(agent.address, "good")))
    await asyncio.sleep(0.1)
    bad = asyncio.create_task(_collect(_call(agent.address, "bad")))
    assert [r["messages"][0]["content"] for r in await good] == ["good answered"]
    assert [r["messages"][0]["content"] for r in await bad] == ["bad answered"]
    assert seen == {"good": 2, "bad": 2}
    assert sorted(turn_ids) == ["turn-bad", "turn-bad", "turn-good", "turn-good"]
    assert agent.connections == 2


async def test_a_subscription_is_sent_again_only_once(arc_agent, one_socket):
    seen, turn_ids = Counter(), []
    agent = await arc_agent(_behaviour(seen, turn_ids, breaks=2))
    good = asyncio.create_task(_collect(_call(agent.address, "good")))
    await asyncio.sleep(0.1)
    bad = asyncio.create_task(_collect(_call(agent.address, "bad")))
    with pytest.raises(AgentClientError):
        await good
    with pytest.raises(AgentClientError):
        await bad
    assert seen == {"good": 2, "bad": 2}


async def test_a_subscription_that_already_heard_from_the_agent_fails_with_the_socket(arc_agent, one_socket):
    seen, turn_ids = Counter(), []
    agent = await arc_agent(_behaviour(seen, turn_ids, breaks=1, early_result=True))
    good = asyncio.create_task(_collect(_call(agent.address, "good")))
    await asyncio.sleep(0.1)
    bad = asyncio.create_task(_collect(_call(agent.address, "bad")))
    with pytest.raises(AgentClientError, match="not JSON"):
        await good
    # The breaking subscription had heard nothing: it is sent again, and answers.
    assert [r["messages"][0]["content"] for r in await bad] == ["first part", "bad answered"]
    assert seen == {"good": 1, "bad": 2}


async def test_a_subscription_alone_on_a_socket_that_breaks_fails_at_once(arc_agent, one_socket):
    seen, turn_ids = Counter(), []
    agent = await arc_agent(_behaviour(seen, turn_ids, breaks=1))
    with pytest.raises(AgentClientError, match="not JSON"):
        await _collect(_call(agent.address, "bad"))
    assert seen == {"bad": 1}
