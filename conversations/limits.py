"""Per-tenant rate limits (Redis) and the cap on turns in flight (per process)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

from core.errors import Overloaded, RateLimited

log = logging.getLogger("conversations.limits")

_inflight = 0


def inflight_count() -> int:
    return _inflight


def inflight_acquire() -> None:
    """Take one of MAX_INFLIGHT_TURNS slots (503 OVERLOADED when none is free)."""
    global _inflight
    limit = settings.MAX_INFLIGHT_TURNS
    if limit is not None and _inflight >= limit:
        raise Overloaded(
            f"{_inflight} turns are in flight (limit {limit}); try again shortly", headers={"Retry-After": "1"}
        )
    _inflight += 1


def inflight_release() -> None:
    global _inflight
    _inflight -= 1


@contextmanager
def inflight_slot() -> Iterator[None]:
    inflight_acquire()
    try:
        yield
    finally:
        inflight_release()


async def rate_limit_check(*, tenant_id: str) -> None:
    """A fixed one-minute window per tenant, counted in Redis so all replicas share it.

    Off unless RATE_LIMIT_PER_MINUTE and REDIS_URL are set. Redis down: the turn goes on
    without a limit (a cache outage must not stop the chat).
    """
    limit = settings.RATE_LIMIT_PER_MINUTE
    if not limit or not settings.REDIS_URL:
        return
    now = time.time()
    window = int(now // 60)
    key = f"ratelimit:{tenant_id}:{window}"
    try:
        added = await cache.aadd(key, 1, timeout=120)
        count = 1 if added else await cache.aincr(key)
    except Exception as exc:  # Redis unreachable or failing: fail open, and say so
        log.warning("rate limit skipped, cache unavailable: %s", exc.__class__.__name__, extra={"tenant": tenant_id})
        return
    if count > limit:
        retry_after = max(1, math.ceil((window + 1) * 60 - now))
        raise RateLimited(
            f"Tenant {tenant_id!r} sent more than {limit} requests this minute",
            headers={"Retry-After": str(retry_after)},
        )
