"""Behaviours for the Arc test agents (tests.support.arc_server.ArcServer)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.arc_server import CloseSocket, SendError, SendRaw, agent_result


def _query(request: dict[str, Any]) -> str:
    messages = (request.get("request") or {}).get("messages") or []
    return messages[-1]["content"] if messages else ""


def echo(prefix: str = "echo: ", *, delay: float = 0.0, entities: list[dict] | None = None):
    async def behaviour(request, headers):
        if delay:
            await asyncio.sleep(delay)
        yield agent_result(prefix + _query(request), anonymization_entities=entities)

    return behaviour


def rendezvous(prefix: str, arrived: dict[str, asyncio.Event], me: str, other: str, *, wait: float = 5.0):
    """Answers only once the `other` agent has received its request too: two such agents can
    both answer within `wait` only when their calls run at the same time."""

    async def behaviour(request, headers):
        arrived[me].set()
        try:
            await asyncio.wait_for(arrived[other].wait(), wait)
            together = "together"
        except TimeoutError:
            together = "alone"
        yield agent_result(f"{prefix}{_query(request)} ({together})")

    return behaviour


async def injected_fault(rng, *, hang: float):
    """One fault picked by `rng` (random.Random or the random module): an error frame, a
    frame that is not JSON, an early close, or `hang` seconds of silence."""
    fault = rng.choice(["error", "garbage", "close", "hang"])
    if fault == "error":
        yield SendError("injected fault")
    elif fault == "garbage":
        yield SendRaw("{not json")
    elif fault == "close":
        yield CloseSocket()
    else:
        await asyncio.sleep(hang)


def several(*contents: str, gap: float = 0.0):
    async def behaviour(request, headers):
        for content in contents:
            if gap:
                await asyncio.sleep(gap)
            yield agent_result(content)

    return behaviour


def error_frame(message: str = "agent exploded"):
    async def behaviour(request, headers):
        yield SendError(message)

    return behaviour


def garbage(text: str = "this is not json"):
    async def behaviour(request, headers):
        yield SendRaw(text)
        await asyncio.sleep(30)  # the client must not wait for this
        yield agent_result("too late")

    return behaviour


def close_early():
    async def behaviour(request, headers):
        yield CloseSocket()

    return behaviour


def hang():
    async def behaviour(request, headers):
        await asyncio.sleep(3600)
        yield agent_result("never")

    return behaviour


def no_messages():
    async def behaviour(request, headers):
        yield {"status": "ONLINE", "type": "MESSAGE", "messages": [], "anonymizationEntities": []}

    return behaviour


def typed(*results: dict[str, Any], gap: float = 0.0):
    """Send these AgentResults in order, then complete."""

    async def behaviour(request, headers):
        for result in results:
            if gap:
                await asyncio.sleep(gap)
            yield result

    return behaviour


def event_result(name: str, **data: Any) -> dict[str, Any]:
    """An Arc EVENT result as an agent with eventing on sends it: the event as JSON text."""
    result = agent_result(json.dumps({"event": name, **data}), type="EVENT")
    result["messages"][0]["role"] = "system"
    result["context"] = [{"key": "event", "value": name}]
    return result


def working_then_answer(answer: str = "Your latest invoice is 48.90 EUR."):
    """What a real Arc agent with eventing on sends: INTERMEDIATE_MESSAGE, EVENT, MESSAGE, complete."""
    return typed(
        agent_result("One moment, I am checking your invoice.", type="INTERMEDIATE_MESSAGE"),
        event_result("ToolCalled", tool="get_invoice"),
        agent_result(answer, type="MESSAGE"),
    )
