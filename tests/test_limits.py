"""Limits and protection: rate limit, turns in flight, circuit breaker, Redis outage."""

from __future__ import annotations

import asyncio
import socket

import pytest

from conversations.models import Turn
from tests.support import agents
from tests.support.arc_server import ArcServer
from tests.test_chat_api import body, error_of, post, registry, url

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif("not __import__('django.conf').conf.settings.REDIS_URL", reason="rate limits need REDIS_URL")
async def test_rate_limit_per_tenant_is_429_with_retry_after(arc_agent, settings):
    from django.core.cache import cache

    await cache.aclear()
    settings.RATE_LIMIT_PER_MINUTE = 3
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    await registry({"billing-agent": agent.address}, tenant="calm", fallback="billing-agent")
    codes = [(await post(url(), body(), turn=f"t{i}")).status_code for i in range(3)]
    assert codes == [200, 200, 200]
    limited = await post(url(), body(), turn="t9")
    assert limited.status_code == 429
    assert error_of(limited)["errorCode"] == "RATE_LIMITED"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another tenant has its own budget.
    assert (await post(url(tenant="calm"), body(), turn="t1")).status_code == 200
    assert await Turn.objects.filter(turn_id="t9").acount() == 0


async def test_without_redis_reachable_the_chat_keeps_working_without_rate_limits(arc_agent, settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = dead
    settings.RATE_LIMIT_PER_MINUTE = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    for index in range(3):
        assert (await post(url(), body(), turn=f"t{index}")).status_code == 200


async def test_turns_in_flight_are_capped_with_503_overloaded(arc_agent, settings):
    settings.MAX_INFLIGHT_TURNS = 1
    agent = await arc_agent(agents.echo(delay=0.5))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    first = asyncio.ensure_future(post(url(), body(), turn="t1"))
    await asyncio.sleep(0.2)
    second = await post(url(), body(), turn="t2")
    assert second.status_code == 503
    assert error_of(second)["errorCode"] == "OVERLOADED"
    assert (await first).status_code == 200
    assert (await post(url(), body(), turn="t3")).status_code == 200


async def test_circuit_breaker_fails_fast_then_recovers_with_a_probe(settings):
    settings.AGENT_CIRCUIT_FAILURES = 2
    settings.AGENT_CIRCUIT_COOLDOWN = 0.5
    port = free_port()
    await registry({"billing-agent": f"127.0.0.1:{port}"}, fallback="billing-agent")
    for index in range(2):
        failed = await post(url(), body(), turn=f"t{index}")
        assert failed.status_code == 502 and "unreachable" in error_of(failed)["message"]
    fast = await post(url(), body(), turn="t2")
    assert fast.status_code == 502 and "failing repeatedly" in error_of(fast)["message"]
    server = await ArcServer(agents.echo(), port=port).start()
    try:
        await asyncio.sleep(0.6)
        recovered = await post(url(), body(), turn="t3")
        assert recovered.status_code == 200
        assert len(server.received) == 1
    finally:
        from agents.client import close_pool

        await close_pool()
        await server.stop()
