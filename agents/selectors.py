"""Reads of the agent registry: for the turn path, and the registry endpoint's listing.

The turn path never calls the source: it reads the stored registry, cached in process
memory per (tenant, channel, subset) and keyed by the tenant's registry version, which
lives in the database so that every web replica sees a sync at once.
"""

from __future__ import annotations

import threading
from typing import Any

from agents.models import Agent, Capability, Channel, RegistryTarget, Tenant
from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry

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
    """Forget every cached registry (after admin edits to fallback agents or thresholds)."""
    with _lock:
        _cache.clear()


def registry_known(*, tenant: Tenant, subset: str) -> bool:
    """Whether the registry of (tenant, subset) is known: synced successfully at least once,
    or holding channels (however they got there)."""
    return (
        RegistryTarget.objects.filter(tenant=tenant, subset=subset, last_synced_at__isnull=False).exists()
        or Channel.objects.filter(tenant=tenant, subset=subset).exists()
    )


def channel_registry_lookup(*, tenant: Tenant, channel_id: str, subset: str) -> tuple[ChannelRegistry | None, bool]:
    """(the registry of the channel or None, whether the (tenant, subset) registry is known)."""
    registry = channel_registry(tenant=tenant, channel_id=channel_id, subset=subset)
    return registry, registry is not None or registry_known(tenant=tenant, subset=subset)


def channel_registry_reread(*, tenant: Tenant, channel_id: str, subset: str) -> ChannelRegistry | None:
    """The channel's registry after a sync: `tenant.registry_version` is read again first."""
    tenant.refresh_from_db(fields=["registry_version"])
    return channel_registry(tenant=tenant, channel_id=channel_id, subset=subset)


def registry_agents(*, tenant_id: str, channel_id: str | None, subset: str) -> dict[str, Any]:
    """What the registry endpoint lists: the active agents of the tenant's channels in
    `subset` (one channel when `channel_id` is given), each name once, by name."""
    channels = Channel.objects.filter(tenant__tenant_id=tenant_id, subset=subset, active=True)
    if channel_id:
        channels = channels.filter(channel_id=channel_id)
    agents = (
        Agent.objects.filter(channel__in=channels, active=True)
        .select_related("channel")
        .prefetch_related("capabilities")
        .order_by("name")
    )
    seen: dict[str, dict[str, Any]] = {}
    for agent in agents:
        if agent.name in seen:
            continue
        seen[agent.name] = {
            "id": agent.agent_id or agent.name,
            "name": agent.name,
            "version": agent.channel.version if agent.channel_id else "",
            "description": agent.description,
            "capabilities": [
                {
                    "id": c.capability_id or c.name,
                    "name": c.name,
                    "version": c.provided_version,
                    "description": c.description,
                }
                for c in agent.capabilities.all()
            ],
        }
    return {"subset": subset, "agents": list(seen.values())}
