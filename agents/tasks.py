"""Celery tasks of the registry: thin wrappers around the sync services.

Beat runs `sync_all_tenants` every AGENT_SYNC_INTERVAL seconds; it fans out one
`sync_tenant` per (tenant, subset) so that a slow tenant holds only its own task.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from agents.services import registry_sync_targets, registry_sync_tenant
from agents.sources import get_source


@shared_task(name="agents.tasks.sync_all_tenants", ignore_result=True)
def sync_all_tenants() -> int:
    """Queue one sync per (tenant, subset); returns how many were queued."""
    targets = registry_sync_targets(source=get_source())
    for tenant_id, subset in targets:
        # A sync still queued when the next round starts is outdated: let it expire.
        sync_tenant.apply_async(args=(tenant_id, subset), expires=settings.AGENT_SYNC_INTERVAL)
    return len(targets)


@shared_task(name="agents.tasks.sync_tenant", ignore_result=True)
def sync_tenant(tenant_id: str, subset: str = "stable") -> str:
    """Sync one (tenant, subset) from the configured source; returns the SyncRun status."""
    return registry_sync_tenant(tenant_id=tenant_id, subset=subset).status
