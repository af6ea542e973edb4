"""Prometheus metrics: the metric objects, the helpers the rest of the code calls, and the
`/metrics` view.

Call the helpers, not the metric objects, so that label names and their bounds stay in
one place:

- `turn_observed(...)` once per finished chat turn (HTTP, SSE or WebSocket), success or error;
- `routing_observed(...)` once per routing decision;
- `agent_error(kind=...)` once per failed agent call;
- `circuit_changed(address, is_open=...)` when an agent's circuit breaker opens or closes;
- `sync_observed(...)` once per registry sync of one tenant;
- `with turn_in_flight():` around the turn, for the in-flight gauge.

Labels are bounded: tenant, channel, agent, strategy, status, kind, source, never a
conversation or turn id. Ids arrive from clients, so each label keeps at most a fixed
number of distinct values per process; later ones are counted under "__other__".

The counters live in the process that observes them. State kept in the database (the
registry's tenants, active agents, the last sync and its age) is read at scrape time, by
gauges apps register, so every web replica reports the same state whichever process ran
the sync.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from core import health

# The *_created series would double the series count for no use here.
disable_created_metrics()

OTHER = "__other__"
NONE = "none"

_LABEL_LIMITS = {
    "tenant": 500,
    "channel": 500,
    "agent": 1000,
    "strategy": 20,
    "status": 30,
    "outcome": 20,
    "kind": 30,
    "source": 10,
    "address": 1000,
}
_seen: dict[str, set[str]] = {name: set() for name in _LABEL_LIMITS}
_seen_lock = threading.Lock()

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
_ROUTING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

TURNS = Counter(
    "lmos_turns",
    "Chat turns finished, by tenant, channel, agent and status (ok or the errorCode).",
    ["tenant", "channel", "agent", "status"],
)
TURN_SECONDS = Histogram(
    "lmos_turn_duration_seconds",
    "Time from request to answer for one chat turn.",
    ["tenant", "status"],
    buckets=_LATENCY_BUCKETS,
)
TURNS_IN_FLIGHT = Gauge("lmos_turns_in_flight", "Chat turns being answered by this process.")
ROUTING_DECISIONS = Counter(
    "lmos_routing_decisions",
    "Routing decisions by strategy and outcome (agent, no_agent, fallback, clarification, error).",
    ["strategy", "outcome"],
)
ROUTING_SECONDS = Histogram(
    "lmos_routing_duration_seconds",
    "Time to take one routing decision.",
    ["strategy"],
    buckets=_ROUTING_BUCKETS,
)
AGENT_ERRORS = Counter(
    "lmos_agent_errors",
    "Failed agent calls by kind (unreachable, timeout, protocol, closed, empty, error, ...).",
    ["kind"],
)
AGENT_CIRCUIT_OPEN = Gauge(
    "lmos_agent_circuit_open",
    "1 while calls to this agent address fail fast (circuit open or waiting for its probe), else 0.",
    ["address"],
)
SYNC_RUNS = Counter("lmos_registry_syncs", "Registry syncs of one tenant, by source and status.", ["source", "status"])
SYNC_SECONDS = Histogram(
    "lmos_registry_sync_duration_seconds",
    "Duration of one tenant's registry sync.",
    ["source"],
    buckets=_LATENCY_BUCKETS,
)


def label_limit(label: str) -> int:
    """How many distinct values `label` keeps per process."""
    return _LABEL_LIMITS[label]


def bounded(label: str, value: object) -> str:
    """`value` as a label value, or OTHER once `label` has reached its distinct-value limit."""
    text = NONE if value is None or value == "" else str(value)[:128]
    seen = _seen[label]
    if text in seen:
        return text
    with _seen_lock:
        if text in seen:
            return text
        if len(seen) >= _LABEL_LIMITS[label]:
            return OTHER
        seen.add(text)
        return text


def turn_observed(*, tenant: str, channel: str, agent: str | None, status: str, seconds: float) -> None:
    """One finished turn. `status` is "ok" or the errorCode answered; `agent` is the agent
    that answered (None when none was chosen)."""
    tenant_label, status_label = bounded("tenant", tenant), bounded("status", status)
    TURNS.labels(tenant_label, bounded("channel", channel), bounded("agent", agent), status_label).inc()
    TURN_SECONDS.labels(tenant_label, status_label).observe(max(seconds, 0.0))


def routing_observed(*, strategy: str, seconds: float, outcome: str = "agent") -> None:
    """One routing decision. `strategy` is the decision's strategy (explicit, vector, llm,
    hybrid, follow_up, ...); `outcome` is agent, no_agent, fallback, clarification or error."""
    strategy_label = bounded("strategy", strategy)
    ROUTING_DECISIONS.labels(strategy_label, bounded("outcome", outcome)).inc()
    ROUTING_SECONDS.labels(strategy_label).observe(max(seconds, 0.0))


def agent_error(*, kind: str) -> None:
    """One failed agent call; `kind` is AgentClientError.kind, or "timeout" for AgentTimeout."""
    AGENT_ERRORS.labels(bounded("kind", kind)).inc()


def circuit_changed(address: str, *, is_open: bool) -> None:
    """The circuit breaker of the agent at `address` opened (True) or closed again (False)."""
    AGENT_CIRCUIT_OPEN.labels(bounded("address", address)).set(int(is_open))


def sync_observed(*, source: str, status: str, seconds: float) -> None:
    """One tenant's registry sync finished; `status` is "ok" or "failed"."""
    source_label = bounded("source", source)
    SYNC_RUNS.labels(source_label, bounded("status", status)).inc()
    SYNC_SECONDS.labels(source_label).observe(max(seconds, 0.0))


@contextmanager
def turn_in_flight() -> Iterator[None]:
    TURNS_IN_FLIGHT.inc()
    try:
        yield
    finally:
        TURNS_IN_FLIGHT.dec()


DatabaseGauges = Callable[[], Iterable[Metric]]
_database_gauges: list[DatabaseGauges] = []


def register_database_gauges(gauges: DatabaseGauges) -> None:
    """Have `gauges()` read at every scrape, when the database answers (apps call this in
    AppConfig.ready; the agent registry's gauges come from agents/health.py)."""
    if gauges not in _database_gauges:
        _database_gauges.append(gauges)


class DatabaseCollector(Collector):
    """`lmos_database_up`, then the gauges apps read from the database at scrape time, only
    after a database check with a short timeout, so a scrape never hangs on a dead database."""

    def collect(self) -> Iterator[Metric]:  # type: ignore[override]
        database_up = health.database_status() == "ok"
        yield GaugeMetricFamily("lmos_database_up", "1 when the database answers.", value=int(database_up))
        if database_up:
            for gauges in _database_gauges:
                yield from gauges()


_SCRAPE_REGISTRY = CollectorRegistry(auto_describe=False)
_SCRAPE_REGISTRY.register(DatabaseCollector())


def render_metrics() -> bytes:
    """Every metric in the Prometheus text format."""
    return generate_latest(REGISTRY) + generate_latest(_SCRAPE_REGISTRY)


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
