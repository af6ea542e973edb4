"""Health endpoints for Kubernetes probes and for people.

- `/health/liveness`: 200 while the process serves requests; touches nothing else, so a
  database outage never makes Kubernetes restart healthy pods.
- `/health/readiness` and `/health`: 200 when the database answers, else 503. The body
  also says how Redis is and what each check registered by an app says (the agent
  registry's, from agents/health.py); either being unwell gives `{"status": "degraded"}`
  with 200, because the turn path still works from the stored registry and Redis errors
  are handled where Redis is used.

Every check has a short timeout of its own (a fresh connection with `connect_timeout`),
so a probe never hangs on a host that accepts TCP and then says nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.logging import redact

log = logging.getLogger("core.health")

DATABASE_TIMEOUT_SECONDS = 2
REDIS_TIMEOUT_SECONDS = 1


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return redact(lines[0]) if lines else type(exc).__name__


def database_status() -> str:
    """ "ok" when the default database answers `SELECT 1` within the timeout, else "down"."""
    connection = connections["default"]
    try:
        if connection.vendor == "postgresql":
            params = connection.get_connection_params()
            params["connect_timeout"] = DATABASE_TIMEOUT_SECONDS
            timeout_ms = DATABASE_TIMEOUT_SECONDS * 1000
            params["options"] = f"{params.get('options', '')} -c statement_timeout={timeout_ms}".strip()
            with psycopg.connect(**params) as probe:
                probe.execute("SELECT 1")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except (DatabaseError, psycopg.Error, OSError) as exc:
        log.warning("database check failed: %s", _reason(exc))
        return "down"
    return "ok"


def redis_status() -> str:
    """ "disabled" without REDIS_URL, else "ok" when Redis answers PING in time, else "down"."""
    if not settings.REDIS_URL:
        return "disabled"
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry_on_timeout=False,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        log.warning("redis check failed: %s", _reason(exc))
        return "down"
    finally:
        client.close()
    return "ok"


@dataclass(frozen=True)
class Check:
    """A readiness check an app registers: `run()` returns a JSON-able dict with a "status";
    the pod is healthy while that status is one of `healthy`. Checks run only when the
    database answers (they read it)."""

    name: str
    run: Callable[[], dict[str, Any]]
    healthy: tuple[str, ...] = ("ok",)


_checks: dict[str, Check] = {}


def register_check(check: Check) -> None:
    """Add `check` to the readiness report under `check.name` (apps call this in
    AppConfig.ready; registering a name again replaces it)."""
    _checks[check.name] = check


def readiness_report() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the readiness check."""
    database = database_status()
    redis_state = redis_status()
    if database != "ok":
        return 503, {"status": "down", "database": database, "redis": redis_state, **dict.fromkeys(_checks)}
    results = {name: check.run() for name, check in _checks.items()}
    healthy = redis_state != "down" and all(results[c.name]["status"] in c.healthy for c in _checks.values())
    return 200, {"status": "ok" if healthy else "degraded", "database": database, "redis": redis_state, **results}


@never_cache
@require_safe
async def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readiness(request: HttpRequest) -> JsonResponse:
    status, body = readiness_report()
    return JsonResponse(body, status=status)
