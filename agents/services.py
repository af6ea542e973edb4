"""Writes to the agent registry: the sync of a source into the database."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Capability, Channel, SyncRun, Tenant
from agents.sources import RegistrySource, SourceError, get_source
from agents.specs import AgentSpec, ChannelRoutingSpec

log = logging.getLogger("agents.sync")


@dataclass
class SyncCounts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def tenant_get_or_create(*, tenant_id: str, origin: str = Tenant.Origin.TRAFFIC) -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(tenant_id=tenant_id, defaults={"origin": origin})
    return tenant


def _agent_fields(spec: AgentSpec) -> dict[str, str]:
    return {"agent_id": spec.id, "description": spec.description, "address": spec.address}


def _capability_fields(cap) -> dict[str, object]:
    return {
        "capability_id": cap.id,
        "provided_version": cap.provided_version,
        "required_version": cap.required_version,
        "description": cap.description,
        "host": cap.host,
        "examples": list(cap.examples),
    }


def _apply_channel(
    *, tenant: Tenant, channel: Channel, spec: ChannelRoutingSpec, source: str, now, counts: SyncCounts
) -> None:
    existing = {a.name: a for a in channel.agents.all()}
    caps_by_agent: dict[int, dict[str, Capability]] = {}
    for cap in Capability.objects.filter(agent__channel=channel):
        caps_by_agent.setdefault(cap.agent_id, {})[cap.name] = cap
    wanted = {a.name for a in spec.agents}
    for agent_spec in spec.agents:
        agent = existing.get(agent_spec.name)
        fields = _agent_fields(agent_spec)
        if agent is None:
            agent = Agent.objects.create(
                tenant=tenant,
                channel=channel,
                name=agent_spec.name,
                subset=channel.subset,
                source=source,
                last_seen_at=now,
                **fields,
            )
            counts.added += 1
            counts.changes.append(f"+ agent {channel}/{agent.name}")
            current_caps: dict[str, Capability] = {}
        else:
            current_caps = caps_by_agent.get(agent.pk, {})
            dirty = [k for k, v in fields.items() if getattr(agent, k) != v]
            if not agent.active:
                dirty.append("active")
            caps_changed = set(current_caps) != {c.name for c in agent_spec.capabilities} or any(
                any(getattr(current_caps[c.name], k) != v for k, v in _capability_fields(c).items())
                for c in agent_spec.capabilities
                if c.name in current_caps
            )
            if dirty or caps_changed:
                for key, value in fields.items():
                    setattr(agent, key, value)
                agent.active = True
                agent.source = source
                counts.updated += 1
                counts.changes.append(f"~ agent {channel}/{agent.name}")
            agent.last_seen_at = now
            agent.save(update_fields=["agent_id", "description", "address", "active", "source", "last_seen_at"])
        # Capabilities: replace the set when anything about them differs.
        wanted_caps = {c.name: c for c in agent_spec.capabilities}
        for name, cap in current_caps.items():
            if name not in wanted_caps:
                cap.delete()
        for name, cap_spec in wanted_caps.items():
            values = _capability_fields(cap_spec)
            cap = current_caps.get(name)
            if cap is None:
                Capability.objects.create(agent=agent, name=name, **values)
            elif any(getattr(cap, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(cap, key, value)
                cap.save()
    for name, agent in existing.items():
        if name not in wanted and agent.active:
            agent.active = False
            agent.save(update_fields=["active"])
            counts.removed += 1
            counts.changes.append(f"- agent {channel}/{name}")


def registry_apply(
    *, tenant: Tenant, subset: str, routings: list[ChannelRoutingSpec], source: str, counts: SyncCounts | None = None
) -> SyncCounts:
    """Make the stored registry of (tenant, subset) equal to `routings`.

    Upserts channels, agents and capabilities, deactivates what vanished, and bumps the
    tenant's registry version when anything changed. Running it twice changes nothing.
    """
    counts = counts or SyncCounts()
    now = timezone.now()
    with transaction.atomic():
        channels = {c.channel_id: c for c in Channel.objects.filter(tenant=tenant, subset=subset)}
        seen: set[str] = set()
        for spec in routings:
            if spec.tenant_id != tenant.tenant_id or spec.subset != subset or spec.channel_id in seen:
                continue
            seen.add(spec.channel_id)
            channel = channels.get(spec.channel_id)
            if channel is None:
                channel = Channel.objects.create(
                    tenant=tenant,
                    channel_id=spec.channel_id,
                    subset=subset,
                    version=spec.version,
                    routing_name=spec.name,
                    last_synced_at=now,
                )
                counts.changes.append(f"+ channel {channel}")
            else:
                if channel.version != spec.version or not channel.active or channel.routing_name != spec.name:
                    counts.updated += 1
                    counts.changes.append(f"~ channel {channel}")
                channel.version, channel.active, channel.routing_name = spec.version, True, spec.name
                channel.last_synced_at = now
                channel.save(update_fields=["version", "active", "routing_name", "last_synced_at"])
            _apply_channel(tenant=tenant, channel=channel, spec=spec, source=source, now=now, counts=counts)
        for channel_id, channel in channels.items():
            if channel_id not in seen and channel.active:
                channel.active = False
                channel.save(update_fields=["active"])
                removed = channel.agents.filter(active=True).update(active=False)
                counts.removed += removed
                counts.changes.append(f"- channel {channel}")
        tenant.last_synced_at = now
        tenant.save(update_fields=["last_synced_at"])
        if counts.changed or any(c.startswith("+ channel") or c.startswith("- channel") for c in counts.changes):
            tenant.bump_registry_version()
    return counts


def registry_sync_tenant(*, tenant_id: str, subset: str = "stable", source: RegistrySource | None = None) -> SyncRun:
    """Fetch one (tenant, subset) from the source and apply it; record a SyncRun.

    A failing source leaves the stored registry as it was and records the error.
    """
    source = source or get_source()
    tenant = tenant_get_or_create(tenant_id=tenant_id, origin=Tenant.Origin.SYNC)
    run = SyncRun.objects.create(source=source.name, tenant=tenant, subset=subset)
    started = time.monotonic()
    try:
        result = source.fetch(tenant_id=tenant_id, subset=subset)
        counts = registry_apply(tenant=tenant, subset=subset, routings=result.routings, source=source.name)
        run.status = SyncRun.Status.OK
        run.channels = len(result.routings)
        run.added, run.updated, run.removed = counts.added, counts.updated, counts.removed
        run.warnings = result.warnings + counts.changes[:200]
        if result.warnings:
            run.error = "; ".join(result.warnings)[:4000]
    except SourceError as exc:
        run.status = SyncRun.Status.FAILED
        run.error = str(exc)
        log.warning("registry sync failed for %s/%s: %s", tenant_id, subset, exc, extra={"tenant": tenant_id})
    run.finished_at = timezone.now()
    run.duration_ms = (time.monotonic() - started) * 1000
    tenant.refresh_from_db(fields=["registry_version"])
    run.registry_version = tenant.registry_version
    run.save()
    return run


def sync_targets(
    *, source: RegistrySource, tenants: list[str] | None = None, subsets: list[str] | None = None
) -> list[tuple[str, str]]:
    """Which (tenant, subset) pairs to sync: LMOS_TENANTS, tenants in the database (made in
    the admin or seen in traffic) and, for the file source, those the file names; subsets
    from LMOS_SUBSETS plus those already known."""
    from django.conf import settings

    if tenants:
        tenant_ids = set(tenants)
    else:
        tenant_ids = set(settings.LMOS_TENANTS) | set(Tenant.objects.values_list("tenant_id", flat=True))
    subset_names = set(subsets or settings.LMOS_SUBSETS or ["stable"])
    pairs = {(t, s) for t in tenant_ids for s in subset_names}
    if not subsets:
        known = Channel.objects.filter(tenant__tenant_id__in=tenant_ids).values_list("tenant__tenant_id", "subset")
        pairs |= set(known)
    if hasattr(source, "tenants"):
        try:
            from_source = source.tenants()
        except SourceError:
            from_source = []
        pairs |= {(t, s) for t, s in from_source if (not tenants or t in tenant_ids) and (not subsets or s in subsets)}
    return sorted(pairs)
