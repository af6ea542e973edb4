"""The agent registry's readiness check and scrape-time gauges, registered into core's
health report and /metrics by AgentsConfig.ready."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from agents.models import Agent, SyncRun, Tenant
from core.health import Check
from core.logging import redact
from core.metrics import label_limit

log = logging.getLogger("agents.health")

# A registry whose latest finished sync is older than this is "stale": beat or the
# worker is probably not running.
STALE_SYNC_INTERVALS = 10
STALE_SYNC_MINIMUM_SECONDS = 300


def registry_state() -> dict[str, Any]:
    """The stored registry: counts and the latest finished sync. Needs a working database.

    `status` is "ok", "failing" (the latest sync of some tenant failed), "stale" (no sync
    finished for a long time), "never_synced", or "unknown" (could not be read).
    """
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


REGISTRY_CHECK = Check(name="registry", run=registry_state, healthy=("ok", "never_synced"))


def registry_gauges() -> Iterator[GaugeMetricFamily]:
    """The registry as the database has it, read at scrape time."""
    state = registry_state()
    if "error" in state:
        return
    yield GaugeMetricFamily("lmos_registry_tenants", "Known tenants.", value=state["tenants"])
    yield GaugeMetricFamily("lmos_registry_agents", "Active agents in all channels.", value=state["agents"])
    yield GaugeMetricFamily(
        "lmos_registry_failing_tenants", "Tenants whose latest registry sync failed.", value=state["failing_tenants"]
    )
    last = state["last_sync"]
    if last is not None:
        yield GaugeMetricFamily(
            "lmos_registry_last_sync_age_seconds",
            "Seconds since the latest finished registry sync.",
            value=last["age_seconds"],
        )
        yield GaugeMetricFamily(
            "lmos_registry_last_sync_ok", "1 when the latest registry sync succeeded.", value=int(last["ok"])
        )
    yield from _tenant_sync_ages()


def _tenant_sync_ages() -> list[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "lmos_registry_tenant_sync_age_seconds",
        "Seconds since the tenant's latest successful registry sync.",
        labels=["tenant"],
    )
    now = timezone.now()
    rows = (
        SyncRun.objects.filter(status=SyncRun.Status.OK, tenant__isnull=False)
        .values("tenant__tenant_id")
        .annotate(last=Max(Coalesce("finished_at", "started_at")))
        .order_by("tenant__tenant_id")[: label_limit("tenant")]
    )
    try:
        for row in rows:
            family.add_metric([row["tenant__tenant_id"]], round(max((now - row["last"]).total_seconds(), 0.0), 1))
    except DatabaseError:
        return []
    return [family]
