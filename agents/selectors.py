"""Reads of the agent registry for the turn path.

The turn path never calls the source: it reads the stored registry, cached in process
memory per (tenant, channel, subset) and keyed by the tenant's registry version, which
lives in the database so that every web replica sees a sync at once.
"""

from __future__ import annotations

import threading

from agents.models import Agent, Capability, Channel, Tenant
from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry

_cache: dict[tuple[str, str, str], ChannelRegistry] = {}
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
    )


def channel_registry(*, tenant: Tenant, channel_id: str, subset: str) -> ChannelRegistry | None:
    """The active agents of (tenant, channel, subset), or None when no routing is known.

    `tenant` must be freshly read (its registry_version is the cache key). Costs one query
    when cached, three when not.
    """
    key = (tenant.tenant_id, channel_id, subset)
    cached = _cache.get(key)
    if cached is not None and cached.registry_version == tenant.registry_version:
        return cached
    channel = Channel.objects.filter(tenant=tenant, channel_id=channel_id, subset=subset, active=True).first()
    if channel is None:
        return None
    registry = _build(tenant=tenant, channel=channel)
    with _lock:
        _cache[key] = registry
    return registry


def channel_registry_invalidate() -> None:
    """Forget every cached registry (after admin edits to fallback agents or thresholds)."""
    with _lock:
        _cache.clear()


async def registry_for_turn(*, tenant: Tenant, channel_id: str, subset: str) -> ChannelRegistry:
    """The registry a turn routes on. Raises AgentNotFound when nothing is installed for
    (tenant, channel, subset), RegistryUnavailable when the source is down and nothing is known.
    """
    from asgiref.sync import sync_to_async

    from lmos_runtime.exceptions import AgentNotFound

    registry = await sync_to_async(channel_registry)(tenant=tenant, channel_id=channel_id, subset=subset)
    if registry is None or not registry.agents:
        raise AgentNotFound(
            f"No agents are installed for tenant {tenant.tenant_id!r}, channel {channel_id!r}, subset {subset!r}"
        )
    return registry
