"""Graceful stop: SIGTERM stops accepting at once and lets the turns in flight finish."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_daphne
from tests.support import agents
from tests.test_chat_api import registry

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _turn(base: str, result: dict) -> None:
    body = {
        "inputContext": {"messages": [{"role": "user", "content": "slow question"}], "explicitAgent": "slow-agent"},
        "systemContext": {"channelId": "web"},
        "userContext": {"userId": "u1"},
    }
    try:
        response = httpx.post(
            f"{base}/apis/v1/acme/chat/c1/message",
            content=json.dumps(body),
            headers={"content-type": "application/json", "x-turn-id": "t1"},
            timeout=20,
        )
        result["status"] = response.status_code
        result["body"] = response.json()
    except httpx.HTTPError as exc:
        result["error"] = repr(exc)


async def test_sigterm_finishes_turns_in_flight_and_refuses_new_ones(arc_agent, live_server_env):
    agent = await arc_agent(agents.echo("done: ", delay=2.0))
    await registry({"slow-agent": agent.address})
    process, base = start_daphne({**live_server_env, "SHUTDOWN_GRACE": "15"}, module="lmos_runtime.serve")
    try:
        result: dict = {}
        # The agent runs in this test's event loop: send the turn from a thread so that
        # waiting for the answer does not block the agent.
        sender = threading.Thread(target=_turn, args=(base, result))
        sender.start()
        while not agent.received:
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health/liveness", timeout=2)
        while sender.is_alive():
            await asyncio.sleep(0.05)
        assert result.get("status") == 200, result
        assert result["body"]["content"] == "done: slow question"
        for _ in range(100):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert process.poll() is not None, "server did not stop after the last turn"
    finally:
        if process.poll() is None:
            process.kill()
