"""Celery tasks of the registry: thin wrappers around the sync services.

Beat runs `sync_all_tenants` every AGENT_SYNC_INTERVAL seconds (settings.SCHEDULE; a round
still queued when the next is due expires); in a worker it fans out one `sync_tenant` per
(tenant, subset) so that a slow tenant holds only its own task. Called as a plain function
(the embedded scheduler, without Redis) it syncs everything in the calling process.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from agents.services import registry_sync_all, registry_sync_targets, registry_sync_tenant_if_due
from agents.sources import get_source


@shared_task(name="agents.tasks.sync_all_tenants", bind=True, ignore_result=True)
def sync_all_tenants(self) -> int:
    """Queue one sync per (tenant, subset), or run them all here when called directly;
    returns how many (tenant, subset) pairs there were."""
    source = get_source()
    if self.request.called_directly:
        return len(registry_sync_all(source=source))
    targets = registry_sync_targets(source=source)
    for tenant_id, subset in targets:
        sync_tenant.delay(tenant_id, subset)
    return len(targets)


@shared_task(name="agents.tasks.sync_tenant", ignore_result=True)
def sync_tenant(tenant_id: str, subset: str = "stable") -> str:
    """Sync one (tenant, subset) from the configured source, unless a sync of it was
    attempted within the last half interval; returns the SyncRun status or "skipped"."""
    run = registry_sync_tenant_if_due(tenant_id=tenant_id, subset=subset, min_age=settings.AGENT_SYNC_INTERVAL / 2)
    return run.status if run is not None else "skipped"
