"""Health endpoints for Kubernetes probes and for people.

- `/health/liveness`: 200 while the process serves requests; touches nothing else, so a
  database outage never makes Kubernetes restart healthy pods.
- `/health/readiness` and `/health`: 200 when the database answers, else 503. The body
  also says how Redis and the agent registry are; either being unwell gives
  `{"status": "degraded"}` with 200, because the turn path still works from the stored
  registry and Redis errors are handled where Redis is used.

Every check has a short timeout of its own (a fresh connection with `connect_timeout`),
so a probe never hangs on a host that accepts TCP and then says nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.decorators import sync_and_async_middleware
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.logging import redact

log = logging.getLogger("core.health")

DATABASE_TIMEOUT_SECONDS = 2
REDIS_TIMEOUT_SECONDS = 1
# A registry whose latest finished sync is older than this is "stale": beat or the
# worker is probably not running.
STALE_SYNC_INTERVALS = 10
STALE_SYNC_MINIMUM_SECONDS = 300


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


def registry_state() -> dict[str, Any]:
    """The stored registry: counts and the latest finished sync. Needs a working database.

    `status` is "ok", "failing" (the latest sync of some tenant failed), "stale" (no sync
    finished for a long time), "never_synced", or "unknown" (could not be read).
    """
    from agents.models import Agent, SyncRun, Tenant

    try:
        finished = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING)
        latest = finished.order_by("-started_at").first()
        latest_per_tenant = finished.filter(tenant=OuterRef("pk")).order_by("-started_at").values("status")[:1]
        failing = (
            Tenant.objects.annotate(last_status=Subquery(latest_per_tenant))
            .filter(last_status=SyncRun.Status.FAILED)
            .count()
        )
        state: dict[str, Any] = {
            "source": settings.REGISTRY_SOURCE,
            "tenants": Tenant.objects.count(),
            "agents": Agent.objects.filter(active=True).count(),
            "failing_tenants": failing,
            "last_sync": None,
        }
    except DatabaseError as exc:
        log.warning("registry state unreadable: %s", exc)
        return {"status": "unknown", "source": settings.REGISTRY_SOURCE, "error": "registry tables unreadable"}

    if latest is None:
        state["status"] = "never_synced"
        return state
    finished_at = latest.finished_at or latest.started_at
    age = max((timezone.now() - finished_at).total_seconds(), 0.0)
    state["last_sync"] = {
        "source": latest.source,
        "tenant": latest.tenant.tenant_id if latest.tenant_id else None,
        "subset": latest.subset or None,
        "ok": latest.status == SyncRun.Status.OK,
        "status": latest.status,
        "finished_at": finished_at.isoformat(),
        "age_seconds": round(age, 1),
        "error": redact(latest.error[:200]) if latest.error else None,
    }
    stale_after = max(settings.AGENT_SYNC_INTERVAL * STALE_SYNC_INTERVALS, STALE_SYNC_MINIMUM_SECONDS)
    if failing or latest.status == SyncRun.Status.FAILED:
        state["status"] = "failing"
    elif age > stale_after:
        state["status"] = "stale"
    else:
        state["status"] = "ok"
    return state


def readiness_report() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the readiness check."""
    database = database_status()
    redis_state = redis_status()
    if database != "ok":
        return 503, {"status": "down", "database": database, "redis": redis_state, "registry": None}
    registry = registry_state()
    healthy = redis_state != "down" and registry["status"] in ("ok", "never_synced")
    body = {"status": "ok" if healthy else "degraded", "database": database, "redis": redis_state, "registry": registry}
    return 200, body


@never_cache
@require_safe
async def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readiness(request: HttpRequest) -> JsonResponse:
    status, body = readiness_report()
    return JsonResponse(body, status=status)


def _probe_views() -> dict[str, Callable[[HttpRequest], Any]]:
    from core.metrics import metrics_view

    return {
        "/health": readiness,
        "/health/liveness": liveness,
        "/health/readiness": readiness,
        "/metrics": metrics_view,
    }


@sync_and_async_middleware
def probes_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Answer the probe and metrics paths before any other middleware.

    Kubernetes probes and Prometheus address a pod by its IP, which ALLOWED_HOSTS rarely
    lists; CommonMiddleware would answer them 400. Put this first in MIDDLEWARE.
    """
    views = _probe_views()

    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            view = views.get(request.path_info.rstrip("/"))
            if view is None:
                return await get_response(request)
            if iscoroutinefunction(view):
                return await view(request)
            return await sync_to_async(view)(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        view = views.get(request.path_info.rstrip("/"))
        if view is None:
            return get_response(request)
        if iscoroutinefunction(view):
            from asgiref.sync import async_to_sync

            return async_to_sync(view)(request)
        return view(request)

    return middleware
