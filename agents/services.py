"""Writes to the agent registry: the sync of a source into the database (scheduled, or on
demand for a turn whose registry is not known yet), and the record of tenants and subsets
seen in traffic.

A sync has two halves. The fetch talks to the source and touches no database, so no
connection is held while waiting on the network; the apply makes the stored registry of a
(tenant, subset) equal to what was fetched in one transaction, with bulk reads and writes:
its number of SQL statements grows with what changed, not with the size of the registry.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from agents.models import Agent, ApiKey, Capability, Channel, RegistryTarget, SyncRun, Tenant
from agents.selectors import channel_registry_lookup, channel_registry_reread
from agents.sources import FetchResult, RegistrySource, SourceError, get_source
from agents.specs import AgentSpec, CapabilitySpec, ChannelRegistry, ChannelRoutingSpec
from core import tracing
from core.db import db
from core.errors import AgentNotFound, RegistryUnavailable
from core.metrics import sync_observed

log = logging.getLogger("agents.sync")

BATCH = 500
CHANGES_KEPT = 500


@dataclass
class SyncCounts:
    """What one apply changed. Counts are of channels and agents; a changed capability
    counts as an update of its agent, a reactivated channel or agent as an addition."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class Fetched:
    """The network half of a sync: what the source answered, or why it failed."""

    tenant_id: str
    subset: str
    source: str
    started_at: datetime
    duration_s: float
    result: FetchResult | None = None
    error: str = ""


# --- tenants and subsets --------------------------------------------------------------


def tenant_get_or_create(*, tenant_id: str, origin: str = Tenant.Origin.TRAFFIC) -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(tenant_id=tenant_id, defaults={"origin": origin})
    return tenant


def registry_note_traffic(*, tenant_id: str, subset: str) -> Tenant:
    """The tenant of a chat request, created (origin "traffic") when new, with the subset
    recorded so that the sync keeps it up to date. Ids must already be validated.

    One query when both are known already; the returned tenant is freshly read, so its
    `registry_version` can key caches.
    """
    tenant = (
        Tenant.objects.filter(tenant_id=tenant_id)
        .annotate(subset_known=Exists(RegistryTarget.objects.filter(tenant=OuterRef("pk"), subset=subset)))
        .first()
    )
    if tenant is not None and tenant.subset_known:
        return tenant
    if tenant is None:
        tenant = tenant_get_or_create(tenant_id=tenant_id, origin=Tenant.Origin.TRAFFIC)
    origin = RegistryTarget.Origin.TRAFFIC
    RegistryTarget.objects.get_or_create(tenant=tenant, subset=subset, defaults={"origin": origin})
    return tenant


def tenants_prune_unused(*, older_than_days: int, in_use: QuerySet | None = None) -> int:
    """Delete tenants that only ever showed up in traffic and left nothing behind: first
    seen more than `older_than_days` ago, not in LMOS_TENANTS, with no channels and no API
    keys, and not among `in_use` (a query of tenant pks an upper app still holds data for,
    e.g. the tenants of stored conversations). Returns how many were deleted.

    Without API keys anyone can chat with any tenant id, and each one seen is synced
    from then on; this keeps such one-offs from being synced forever. Their conversations
    go first, by retention.
    """
    cutoff = timezone.now() - timedelta(days=older_than_days)
    unused = (
        Tenant.objects.filter(origin=Tenant.Origin.TRAFFIC, created_at__lt=cutoff)
        .exclude(tenant_id__in=settings.LMOS_TENANTS)
        .filter(
            ~Exists(Channel.objects.filter(tenant=OuterRef("pk"))),
            ~Exists(ApiKey.objects.filter(tenant=OuterRef("pk"))),
        )
    )
    if in_use is not None:
        unused = unused.exclude(pk__in=in_use)
    _, per_model = unused.delete()
    return per_model.get("agents.Tenant", 0)


def registry_sync_targets(
    *, source: RegistrySource | None = None, tenants: Iterable[str] | None = None, subsets: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """The (tenant, subset) pairs to sync.

    Tenants: LMOS_TENANTS and every tenant in the database (made in the admin, seen in
    traffic or synced before), plus those a file or Kubernetes source describes. Subsets
    per tenant: LMOS_SUBSETS plus those seen in traffic or synced before. `tenants` and
    `subsets` narrow the answer (the `--tenant` / `--subset` options).
    """
    only_tenants = set(tenants or ())
    only_subsets = set(subsets or ())
    if only_tenants:
        tenant_ids = only_tenants
    else:
        tenant_ids = set(settings.LMOS_TENANTS) | set(Tenant.objects.values_list("tenant_id", flat=True))
    base_subsets = only_subsets or set(settings.LMOS_SUBSETS or ["stable"])
    pairs = {(t, s) for t in tenant_ids for s in base_subsets}
    for model in (RegistryTarget, Channel):
        known = model.objects.order_by().values_list("tenant__tenant_id", "subset").distinct()
        pairs |= {(t, s) for t, s in known if t in tenant_ids}
    if source is not None and hasattr(source, "tenants"):
        try:
            pairs |= {(t, s) for t, s in source.tenants() if not only_tenants or t in only_tenants}
        except SourceError as exc:
            log.warning("could not list the tenants of the %s source: %s", source.name, exc)
    return sorted((t, s) for t, s in pairs if not only_subsets or s in only_subsets)


# --- the sync ---------------------------------------------------------------------------


def registry_fetch(*, source: RegistrySource, tenant_id: str, subset: str) -> Fetched:
    """Ask the source for one (tenant, subset). Network only: never touches the database."""
    started_at, t0 = timezone.now(), time.monotonic()
    fetched = Fetched(tenant_id=tenant_id, subset=subset, source=source.name, started_at=started_at, duration_s=0.0)
    try:
        fetched.result = source.fetch(tenant_id=tenant_id, subset=subset)
    except SourceError as exc:
        fetched.error = str(exc) or type(exc).__name__
    except Exception as exc:
        # A bug or an unexpected library error in one source must not stop the other syncs.
        log.exception("registry source %s crashed for %s/%s", source.name, tenant_id, subset)
        fetched.error = f"unexpected error in the {source.name} source: {type(exc).__name__}: {exc}"
    fetched.duration_s = time.monotonic() - t0
    return fetched


def registry_record_sync(*, fetched: Fetched) -> SyncRun:
    """Apply a fetch to the database and record the SyncRun. A failed fetch changes nothing
    but the error on the target: the last good registry stays in place."""
    origin = Tenant.Origin.CONFIG if fetched.tenant_id in settings.LMOS_TENANTS else Tenant.Origin.SYNC
    tenant = tenant_get_or_create(tenant_id=fetched.tenant_id, origin=origin)
    target, _ = RegistryTarget.objects.get_or_create(tenant=tenant, subset=fetched.subset)
    now = timezone.now()
    t0 = time.monotonic()
    run = SyncRun(
        source=fetched.source,
        tenant=tenant,
        subset=fetched.subset,
        started_at=fetched.started_at,
        finished_at=now,
    )
    if fetched.result is None:
        RegistryTarget.objects.filter(pk=target.pk).update(last_attempt_at=now, last_error=fetched.error[:4000])
        run.status = SyncRun.Status.FAILED
        run.error = fetched.error
        run.registry_version = tenant.registry_version
        log.warning(
            "registry sync failed for %s/%s: %s",
            fetched.tenant_id,
            fetched.subset,
            fetched.error,
            extra={"tenant": fetched.tenant_id},
        )
    else:
        with transaction.atomic():
            counts = registry_apply(
                tenant=tenant,
                subset=fetched.subset,
                routings=fetched.result.routings,
                source=fetched.source,
                unreadable=fetched.result.unreadable,
                previous_sync_at=target.last_synced_at,
            )
            RegistryTarget.objects.filter(pk=target.pk).update(last_synced_at=now, last_attempt_at=now, last_error="")
        run.status = SyncRun.Status.OK
        run.channels = len(fetched.result.routings)
        run.added, run.updated, run.removed = counts.added, counts.updated, counts.removed
        run.registry_version = tenant.registry_version
        run.warnings = _capped(fetched.result.warnings + counts.warnings)
        run.changes = _capped(counts.changes)
        if counts.changed:
            log.info(
                "registry of %s/%s changed: +%d ~%d -%d (version %d)",
                fetched.tenant_id,
                fetched.subset,
                counts.added,
                counts.updated,
                counts.removed,
                tenant.registry_version,
                extra={"tenant": fetched.tenant_id},
            )
    run.duration_ms = (fetched.duration_s + time.monotonic() - t0) * 1000
    run.save(force_insert=True)
    sync_observed(source=run.source, status=run.status, seconds=run.duration_ms / 1000)
    return run


def registry_sync_tenant(*, tenant_id: str, subset: str = "stable", source: RegistrySource | None = None) -> SyncRun:
    """Fetch one (tenant, subset) from the source and apply it; record a SyncRun."""
    source = source or get_source()
    with tracing.span("registry.sync", tenant=tenant_id, subset=subset) as span:
        run = registry_record_sync(fetched=registry_fetch(source=source, tenant_id=tenant_id, subset=subset))
        tracing.annotate(span, source=run.source, status=run.status, channels=run.channels)
    return run


def registry_sync_tenant_if_due(*, tenant_id: str, subset: str, min_age: float) -> SyncRun | None:
    """Sync (tenant, subset) unless a sync was attempted less than `min_age` seconds ago.

    Queued syncs do not expire (with many tenants and few workers, the last tenants of a
    round would never be synced); a backlog drains instead because stale duplicates are
    dropped here with one query.
    """
    since = timezone.now() - timedelta(seconds=min_age)
    if RegistryTarget.objects.filter(tenant__tenant_id=tenant_id, subset=subset, last_attempt_at__gte=since).exists():
        return None
    return registry_sync_tenant(tenant_id=tenant_id, subset=subset)


def registry_sync_many(
    *, targets: Iterable[tuple[str, str]], source: RegistrySource | None = None, workers: int = 8
) -> list[SyncRun]:
    """Sync several (tenant, subset) pairs: fetched concurrently, so one slow tenant does not
    hold the others and all fail within one AGENT_REGISTRY_TIMEOUT when the source is down;
    applied one by one in the calling thread as the fetches complete."""
    source = source or get_source()
    targets = list(targets)
    if len(targets) <= 1:
        return [registry_sync_tenant(tenant_id=t, subset=s, source=source) for t, s in targets]
    runs = []
    with ThreadPoolExecutor(max_workers=min(workers, len(targets)), thread_name_prefix="registry-fetch") as pool:
        futures = [pool.submit(registry_fetch, source=source, tenant_id=t, subset=s) for t, s in targets]
        for future in as_completed(futures):
            runs.append(registry_record_sync(fetched=future.result()))
    order = {target: index for index, target in enumerate(targets)}
    runs.sort(key=lambda run: order[(run.tenant.tenant_id, run.subset)])
    return runs


def registry_sync_all(*, source: RegistrySource | None = None) -> list[SyncRun]:
    """One sync of everything `registry_sync_targets` names (the embedded scheduler's job)."""
    source = source or get_source()
    return registry_sync_many(targets=registry_sync_targets(source=source), source=source)


# --- the on-demand sync of the turn path ------------------------------------------------

# On-demand syncs: one per (tenant, subset) at a time per event loop, awaited by every
# request that needs it. The fetch runs in a worker thread that touches no database; only
# the apply takes a connection.
ONDEMAND_RETRY_AFTER = 2.0  # seconds during which a failed on-demand sync is not retried
_ondemand_inflight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Task]] = (
    weakref.WeakKeyDictionary()
)
_ondemand_failed: dict[tuple[str, str], tuple[float, str]] = {}


def registry_on_demand_forget() -> None:
    """Forget every remembered on-demand sync failure (tests, and with the registry caches)."""
    _ondemand_failed.clear()


async def _ondemand_sync(tenant_id: str, subset: str) -> tuple[bool, str]:
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
    registry, known = await db(channel_registry_lookup)(tenant=tenant, channel_id=channel_id, subset=subset)
    if registry is None and not known:
        ok, error = await registry_sync_on_demand(tenant_id=tenant.tenant_id, subset=subset)
        if not ok:
            raise RegistryUnavailable(
                f"The agent registry for tenant {tenant.tenant_id!r}, subset {subset!r} is not known yet "
                f"and the registry source is unavailable: {error or 'unknown error'}"
            )
        registry = await db(channel_registry_reread)(tenant=tenant, channel_id=channel_id, subset=subset)
    if registry is None or not registry.agents:
        raise AgentNotFound(
            f"No agents are installed for tenant {tenant.tenant_id!r}, channel {channel_id!r}, subset {subset!r}"
        )
    return registry


# --- the apply --------------------------------------------------------------------------


def _agent_fields(spec: AgentSpec, source: str) -> dict[str, Any]:
    return {"agent_id": spec.id, "description": spec.description, "address": spec.address, "source": source}


def _capability_fields(spec: CapabilitySpec) -> dict[str, Any]:
    return {
        "capability_id": spec.id,
        "provided_version": spec.provided_version,
        "required_version": spec.required_version,
        "description": spec.description,
        "host": spec.host,
        "examples": list(spec.examples),
    }


AGENT_FIELDS = ["agent_id", "description", "address", "source", "active", "last_seen_at"]
CAPABILITY_FIELDS = ["capability_id", "provided_version", "required_version", "description", "host", "examples"]


def registry_apply(
    *,
    tenant: Tenant,
    subset: str,
    routings: list[ChannelRoutingSpec],
    source: str,
    unreadable: Iterable[str] = (),
    previous_sync_at: datetime | None = None,
) -> SyncCounts:
    """Make the stored registry of (tenant, subset) equal to `routings`.

    Upserts channels, agents and capabilities, deactivates what vanished (except channels
    in `unreadable`: the source lists them but their routing could not be used this time),
    and bumps the tenant's registry version when anything changed. Operator-set channel
    fields (fallback agent, thresholds) are never touched. Running it twice changes
    nothing the second time. Statements: a constant handful plus batches of what changed.
    """
    counts = SyncCounts()
    now = timezone.now()
    keep = set(unreadable)
    with transaction.atomic(savepoint=False):
        # Serialises concurrent syncs of one tenant (beat, on-demand, admin); `tenant` ends
        # up with the version this apply leaves.
        version = Tenant.objects.select_for_update().values_list("registry_version", flat=True).get(pk=tenant.pk)

        wanted: dict[str, ChannelRoutingSpec] = {}
        for spec in routings:
            if spec.tenant_id != tenant.tenant_id or spec.subset != subset:
                counts.warnings.append(
                    f"ChannelRouting {spec.name or spec.channel_id!r} is labelled {spec.tenant_id}/{spec.subset}, "
                    f"not {tenant.tenant_id}/{subset}: skipped"
                )
            elif spec.channel_id in wanted:
                counts.warnings.append(f"channel {spec.channel_id!r} is listed twice: the first routing is used")
            else:
                wanted[spec.channel_id] = spec

        channels = {c.channel_id: c for c in Channel.objects.filter(tenant=tenant, subset=subset)}
        agents: dict[tuple[int, str], Agent] = {
            (a.channel_id, a.name): a for a in Agent.objects.filter(tenant=tenant, channel__subset=subset)
        }
        agents_by_channel: dict[int, list[Agent]] = {}
        for agent in agents.values():
            agents_by_channel.setdefault(agent.channel_id, []).append(agent)
        capabilities: dict[int, dict[str, Capability]] = {}
        for cap in Capability.objects.filter(agent__tenant=tenant, agent__channel__subset=subset):
            capabilities.setdefault(cap.agent_id, {})[cap.name] = cap

        # Channels.
        new_channels, changed_channels, gone_channels = [], [], []
        for channel_id, spec in wanted.items():
            channel = channels.get(channel_id)
            if channel is None:
                channel = Channel(
                    tenant=tenant,
                    channel_id=channel_id,
                    subset=subset,
                    version=spec.version,
                    routing_name=spec.name,
                    last_synced_at=now,
                )
                channels[channel_id] = channel
                new_channels.append(channel)
                counts.added += 1
                counts.changes.append(f"+ channel {channel_id} {spec.version}".rstrip())
            elif (channel.version, channel.routing_name, channel.active) != (spec.version, spec.name, True):
                if channel.active:
                    counts.updated += 1
                    counts.changes.append(f"~ channel {channel_id} {channel.version} -> {spec.version}")
                else:
                    counts.added += 1
                    counts.changes.append(f"+ channel {channel_id} {spec.version} (back)")
                channel.version, channel.routing_name, channel.active = spec.version, spec.name, True
                channel.last_synced_at = now
                changed_channels.append(channel)
        for channel_id, channel in channels.items():
            if channel.active and channel_id not in wanted and channel_id not in keep:
                gone_channels.append(channel)
                counts.removed += 1
                counts.changes.append(f"- channel {channel_id}")
        Channel.objects.bulk_create(new_channels, batch_size=BATCH)
        Channel.objects.bulk_update(changed_channels, ["version", "routing_name", "active", "last_synced_at"], BATCH)
        _update_in_batches(Channel, [c.pk for c in gone_channels], active=False)

        # Agents and their capabilities.
        new_agents: list[tuple[Agent, AgentSpec]] = []
        changed_agents: list[Agent] = []
        new_caps: list[Capability] = []
        changed_caps: list[Capability] = []
        dropped_caps: list[int] = []
        gone_agents: list[Agent] = []
        for channel_id, spec in wanted.items():
            channel = channels[channel_id]
            names = set()
            for agent_spec in spec.agents:
                names.add(agent_spec.name)
                fields = _agent_fields(agent_spec, source)
                agent = agents.get((channel.pk, agent_spec.name))
                if agent is None:
                    agent = Agent(
                        tenant=tenant,
                        channel=channel,
                        name=agent_spec.name,
                        subset=subset,
                        active=True,
                        last_seen_at=now,
                        **fields,
                    )
                    new_agents.append((agent, agent_spec))
                    counts.added += 1
                    counts.changes.append(f"+ agent {channel_id}/{agent_spec.name}")
                    continue
                stored = capabilities.get(agent.pk, {})
                caps_changed = _diff_capabilities(agent, agent_spec, stored, new_caps, changed_caps, dropped_caps)
                fields_changed = any(getattr(agent, k) != v for k, v in fields.items())
                if fields_changed or caps_changed or not agent.active:
                    if agent.active:
                        counts.updated += 1
                        counts.changes.append(f"~ agent {channel_id}/{agent_spec.name}")
                    else:
                        counts.added += 1
                        counts.changes.append(f"+ agent {channel_id}/{agent_spec.name} (back)")
                    for key, value in fields.items():
                        setattr(agent, key, value)
                    agent.active, agent.last_seen_at = True, now
                    changed_agents.append(agent)
            for agent in agents_by_channel.get(channel.pk, ()):
                if agent.active and agent.name not in names:
                    gone_agents.append(agent)
                    counts.removed += 1
                    counts.changes.append(f"- agent {channel_id}/{agent.name}")
        gone_ids = {c.pk: c.channel_id for c in gone_channels}
        for agent in agents.values():
            if agent.active and agent.channel_id in gone_ids:
                gone_agents.append(agent)
                counts.removed += 1
                counts.changes.append(f"- agent {gone_ids[agent.channel_id]}/{agent.name}")

        Agent.objects.bulk_create([agent for agent, _ in new_agents], batch_size=BATCH)
        for agent, agent_spec in new_agents:
            new_caps += [
                Capability(agent_id=agent.pk, name=c.name, **_capability_fields(c)) for c in agent_spec.capabilities
            ]
        Agent.objects.bulk_update(changed_agents, AGENT_FIELDS, batch_size=BATCH)
        # An active agent is seen by every successful sync (RegistryTarget.last_synced_at);
        # a deactivated one keeps the time of the last sync that still listed it.
        if previous_sync_at is not None:
            _update_in_batches(Agent, [a.pk for a in gone_agents], active=False, last_seen_at=previous_sync_at)
        else:
            _update_in_batches(Agent, [a.pk for a in gone_agents], active=False)
        for start in range(0, len(dropped_caps), BATCH):
            Capability.objects.filter(pk__in=dropped_caps[start : start + BATCH]).delete()
        Capability.objects.bulk_create(new_caps, batch_size=BATCH)
        Capability.objects.bulk_update(changed_caps, CAPABILITY_FIELDS, batch_size=BATCH)

        if counts.changed:
            Tenant.objects.filter(pk=tenant.pk).update(registry_version=F("registry_version") + 1, last_synced_at=now)
            version += 1
        else:
            Tenant.objects.filter(pk=tenant.pk).update(last_synced_at=now)
        tenant.registry_version, tenant.last_synced_at = version, now
    return counts


def _diff_capabilities(
    agent: Agent,
    spec: AgentSpec,
    stored: dict[str, Capability],
    new_caps: list[Capability],
    changed_caps: list[Capability],
    dropped_caps: list[int],
) -> bool:
    """Queue the capability writes that make `agent`'s capabilities equal `spec`'s."""
    changed = False
    wanted = {c.name: c for c in spec.capabilities}
    for name, cap in stored.items():
        if name not in wanted:
            dropped_caps.append(cap.pk)
            changed = True
    for name, cap_spec in wanted.items():
        values = _capability_fields(cap_spec)
        cap = stored.get(name)
        if cap is None:
            new_caps.append(Capability(agent_id=agent.pk, name=name, **values))
            changed = True
        elif any(getattr(cap, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(cap, key, value)
            changed_caps.append(cap)
            changed = True
    return changed


def _update_in_batches(model: type[Channel] | type[Agent], pks: list[int], **values: Any) -> None:
    for start in range(0, len(pks), BATCH):
        model.objects.filter(pk__in=pks[start : start + BATCH]).update(**values)


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= CHANGES_KEPT:
        return lines
    return [*lines[:CHANGES_KEPT], f"… and {len(lines) - CHANGES_KEPT} more"]
