"""Reads of the agent registry for the turn path.

The turn path never calls the source: it reads the stored registry, cached in process
memory per (tenant, channel, subset) and keyed by the tenant's registry version, which
lives in the database so that every web replica sees a sync at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref

from asgiref.sync import sync_to_async

from agents.models import Agent, Capability, Channel, RegistryTarget, Tenant
from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry
from core.db import db

# Keyed by the tenant row (not only its id): a tenant deleted and made again starts at
# version 0 again and must not hit the old entry.
_cache: dict[tuple[int, str, str], ChannelRegistry] = {}
_lock = threading.Lock()


def _build(*, tenant: Tenant, channel: Channel) -> ChannelRegistry:
    agents = list(Agent.objects.filter(channel=channel, active=True).order_by("name"))
    caps: dict[int, list[CapabilitySpec]] = {}
    for cap in Capability.objects.filter(agent__in=[a.pk for a in agents]).order_by("name"):
        caps.setdefault(cap.agent_id, []).append(
            CapabilitySpec(
                name=cap.name,
                id=cap.capability_id,
                provided_version=cap.provided_version,
                required_version=cap.required_version,
                description=cap.description,
                host=cap.host,
                examples=tuple(cap.examples or ()),
            )
        )
    installed = {a.name for a in agents}
    learned = []
    for name, texts in sorted((channel.learned_examples or {}).items()):
        kept = tuple(t for t in texts if isinstance(t, str) and t.strip()) if isinstance(texts, list) else ()
        if name in installed and kept:
            learned.append((name, kept))
    return ChannelRegistry(
        tenant_id=tenant.tenant_id,
        channel_id=channel.channel_id,
        subset=channel.subset,
        registry_version=tenant.registry_version,
        agents=tuple(
            AgentSpec(
                name=a.name,
                id=a.agent_id,
                description=a.description,
                address=a.address,
                capabilities=tuple(caps.get(a.pk, ())),
            )
            for a in agents
        ),
        fallback_agent=channel.fallback_agent,
        vector_threshold=channel.vector_threshold,
        vector_margin=channel.vector_margin,
        learned=tuple(learned),
    )


def channel_registry(*, tenant: Tenant, channel_id: str, subset: str) -> ChannelRegistry | None:
    """The active agents of (tenant, channel, subset), or None when no routing is known.

    `tenant` must be freshly read (its registry_version is the cache key). Costs one query
    when cached, three when not.
    """
    cached = channel_registry_cached(
        tenant_pk=tenant.pk, registry_version=tenant.registry_version, channel_id=channel_id, subset=subset
    )
    if cached is not None:
        return cached
    channel = Channel.objects.filter(tenant=tenant, channel_id=channel_id, subset=subset, active=True).first()
    if channel is None:
        return None
    registry = _build(tenant=tenant, channel=channel)
    with _lock:
        _cache[(tenant.pk, channel_id, subset)] = registry
    return registry


def channel_registry_cached(
    *, tenant_pk: int, registry_version: int, channel_id: str, subset: str
) -> ChannelRegistry | None:
    """The cached registry when it is current, without touching the database."""
    cached = _cache.get((tenant_pk, channel_id, subset))
    if cached is not None and cached.registry_version == registry_version:
        return cached
    return None


def channel_registry_invalidate() -> None:
    """Forget every cached registry (after admin edits to fallback agents or thresholds),
    and every remembered on-demand sync failure."""
    with _lock:
        _cache.clear()
        _ondemand_failed.clear()


def registry_known(*, tenant: Tenant, subset: str) -> bool:
    """Whether the registry of (tenant, subset) is known: synced successfully at least once,
    or holding channels (however they got there)."""
    return (
        RegistryTarget.objects.filter(tenant=tenant, subset=subset, last_synced_at__isnull=False).exists()
        or Channel.objects.filter(tenant=tenant, subset=subset).exists()
    )


# On-demand syncs: one per (tenant, subset) at a time per event loop, awaited by every
# request that needs it. The fetch runs in a worker thread that touches no database; only
# the apply takes a connection.
ONDEMAND_RETRY_AFTER = 2.0  # seconds during which a failed on-demand sync is not retried
_ondemand_inflight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Task]] = (
    weakref.WeakKeyDictionary()
)
_ondemand_failed: dict[tuple[str, str], tuple[float, str]] = {}


async def _ondemand_sync(tenant_id: str, subset: str) -> tuple[bool, str]:
    from agents.services import registry_fetch, registry_record_sync
    from agents.sources import get_source

    source = get_source()
    fetched = await sync_to_async(registry_fetch, thread_sensitive=False)(
        source=source, tenant_id=tenant_id, subset=subset
    )
    run = await db(registry_record_sync)(fetched=fetched)
    return run.status == run.Status.OK, run.error


async def registry_sync_on_demand(*, tenant_id: str, subset: str) -> tuple[bool, str]:
    """Sync (tenant, subset) now, or join the sync already under way; returns (ok, error).

    Concurrent callers share one sync, so a burst of first chats for a tenant makes one
    round of requests to the source, not one each. A failure is remembered for
    ONDEMAND_RETRY_AFTER seconds so that a down source is not hammered by every chat.
    """
    key = (tenant_id, subset)
    inflight = _ondemand_inflight.setdefault(asyncio.get_running_loop(), {})
    task = inflight.get(key)
    if task is None:
        failed = _ondemand_failed.get(key)
        if failed is not None and time.monotonic() - failed[0] < ONDEMAND_RETRY_AFTER:
            return False, failed[1]
        task = asyncio.get_running_loop().create_task(_ondemand_sync(tenant_id, subset))
        inflight[key] = task

        def finished(done: asyncio.Task) -> None:
            if inflight.get(key) is done:
                del inflight[key]
            if done.cancelled() or done.exception() is not None:
                _ondemand_failed[key] = (time.monotonic(), "the on-demand sync did not complete")
            elif done.result()[0]:
                _ondemand_failed.pop(key, None)
            else:
                _ondemand_failed[key] = (time.monotonic(), done.result()[1])

        task.add_done_callback(finished)
    # shield: one caller going away must not cancel the sync the others wait for.
    return await asyncio.shield(task)


async def registry_for_turn(*, tenant: Tenant, channel_id: str, subset: str) -> ChannelRegistry:
    """The registry a turn routes on.

    Reads the stored registry (cached per registry version). When the (tenant, subset) was
    never synced, one synchronous fetch from the source is made first, shared by concurrent
    requests. Raises RegistryUnavailable when that fetch fails and nothing is known,
    AgentNotFound when the registry is known but has no agents for the channel. After an
    on-demand sync `tenant.registry_version` is updated in place.
    """
    from core.errors import AgentNotFound, RegistryUnavailable

    registry, known = await db(_lookup)(tenant=tenant, channel_id=channel_id, subset=subset)
    if registry is None and not known:
        ok, error = await registry_sync_on_demand(tenant_id=tenant.tenant_id, subset=subset)
        if not ok:
            raise RegistryUnavailable(
                f"The agent registry for tenant {tenant.tenant_id!r}, subset {subset!r} is not known yet "
                f"and the registry source is unavailable: {error or 'unknown error'}"
            )
        registry = await db(_registry_after_sync)(tenant=tenant, channel_id=channel_id, subset=subset)
    if registry is None or not registry.agents:
        raise AgentNotFound(
            f"No agents are installed for tenant {tenant.tenant_id!r}, channel {channel_id!r}, subset {subset!r}"
        )
    return registry


def _lookup(*, tenant: Tenant, channel_id: str, subset: str) -> tuple[ChannelRegistry | None, bool]:
    registry = channel_registry(tenant=tenant, channel_id=channel_id, subset=subset)
    return registry, registry is not None or registry_known(tenant=tenant, subset=subset)


def _registry_after_sync(*, tenant: Tenant, channel_id: str, subset: str) -> ChannelRegistry | None:
    tenant.refresh_from_db(fields=["registry_version"])
    return channel_registry(tenant=tenant, channel_id=channel_id, subset=subset)
