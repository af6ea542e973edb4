"""Crash-safe turns: when the web process running a turn is killed (SIGKILL, as in an
OOM kill or a lost node), the client's retry with the same turn id is answered as soon as
the dead process's lease lapses, by a process started afterwards. On the suite's database
(CI runs it on PostgreSQL and on SQLite)."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest
from asgiref.sync import sync_to_async

from conversations.models import Turn
from tests.conftest import start_daphne, stop_processes
from tests.factories import make_registry
from tests.support import agents

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 4.0
AGENT_SECONDS = 3.0
BODY = {
    "inputContext": {"messages": [{"role": "user", "content": "why is my bill so high"}]},
    "systemContext": {"channelId": "web"},
    "userContext": {"userId": "user456"},
}


async def _post(base: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.post(f"{base}/apis/v1/acme/chat/conv-1/message", json=BODY, headers={"x-turn-id": "t1"})


async def test_the_retry_of_a_turn_whose_process_was_killed_is_answered_within_the_lease(arc_agent, live_server_env):
    agent = await arc_agent(agents.echo("billing: ", delay=AGENT_SECONDS))
    await sync_to_async(make_registry)("acme", "web", "stable", {"billing-agent": agent.address})
    env = {**live_server_env, "TURN_LEASE_SECONDS": str(LEASE), "TURN_LEASE_RENEW_SECONDS": "1"}

    first, base = await asyncio.to_thread(start_daphne, env)
    try:
        request = asyncio.create_task(_post(base))
        deadline = time.monotonic() + 30
        while not agent.received and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert agent.received, "the first attempt never reached the agent"
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait)
        killed = time.monotonic()
        with pytest.raises(httpx.TransportError):
            await request
    finally:
        stop_processes(first)

    second, base = await asyncio.to_thread(start_daphne, env)
    try:
        retried = time.monotonic()
        response = await _post(base)
        answered = time.monotonic()
    finally:
        stop_processes(second)

    assert response.status_code == 200, response.content
    assert response.json()["content"] == "billing: why is my bill so high"
    # Waited at most for the rest of the dead process's lease, then ran the agent again.
    assert answered - retried < LEASE + AGENT_SECONDS + 2.0, (answered - retried, answered - killed)
    # The agent saw the turn twice, with the same turn id both times; one answer is stored.
    turn_ids = [request["request"]["conversationContext"]["turnId"] for _, request in agent.received]
    assert turn_ids == ["t1", "t1"]
    turn = await Turn.objects.aget()
    assert turn.status == "completed" and turn.attempts == 2
    assert turn.answer["content"] == "billing: why is my bill so high"
