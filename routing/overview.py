"""The admin's routing overview: how one channel (or every channel) routed over the last
hour, day or week. Every figure is an aggregate query; no decision or turn row is loaded
into Python. Percentiles are PostgreSQL's `percentile_cont`, or on SQLite the same linear
interpolation between the two rows an ordered OFFSET query returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet
from django.db.models.functions import Trunc
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from agents.models import Channel
from routing import charts
from routing.models import RoutingDecision

# window -> (length, bucket of the timeline, strftime of a bucket's label)
WINDOWS = {
    "hour": (timedelta(hours=1), "minute", "%H:%M"),
    "day": (timedelta(days=1), "hour", "%H:00"),
    "week": (timedelta(days=7), "day", "%a %d"),
}
AGENT_ERRORS = ("AGENT_CLIENT_EXCEPTION", "AGENT_TIMEOUT")
CONFIDENCE_BINS = 10
TOP_AGENTS = 20


class PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, fraction: float, expression: str, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def percentiles(queryset: QuerySet, column: str, fractions: tuple[float, ...]) -> list[float | None]:
    """The continuous percentiles of `column` over `queryset` (None when it is empty)."""
    rows = queryset.filter(**{f"{column}__isnull": False})
    if connections[rows.db].vendor == "postgresql":
        result = rows.aggregate(**{f"p{i}": PercentileCont(f, column) for i, f in enumerate(fractions)})
        return [result[f"p{i}"] for i in range(len(fractions))]
    count = rows.count()
    if not count:
        return [None] * len(fractions)
    ordered = rows.order_by(column).values_list(column, flat=True)
    values = []
    for fraction in fractions:
        position = fraction * (count - 1)
        low = math.floor(position)
        pair = list(ordered[low : low + 2])
        high = pair[1] if len(pair) > 1 else pair[0]
        values.append(pair[0] + (high - pair[0]) * (position - low))
    return values


@dataclass
class Overview:
    window: str
    channel: Channel | None
    since: Any
    decisions: int = 0
    no_agent: int = 0
    fallback: int = 0
    clarification: int = 0
    follow_ups: int = 0
    turns: int = 0
    agent_errors: int = 0
    per_agent: list[tuple[str, float]] = field(default_factory=list)
    errors_per_agent: list[tuple[str, float]] = field(default_factory=list)
    confidence_bins: list[tuple[str, float]] = field(default_factory=list)
    routing_ms: list[float | None] = field(default_factory=list)
    turn_ms: list[float | None] = field(default_factory=list)
    timeline: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def no_agent_rate(self) -> float | None:
        return self.no_agent / self.decisions if self.decisions else None


def _scoped(queryset: QuerySet, channel: Channel | None, since) -> QuerySet:
    queryset = queryset.filter(created_at__gte=since)
    if channel is not None:
        queryset = queryset.filter(tenant_id=channel.tenant_id, channel_id=channel.channel_id, subset=channel.subset)
    return queryset


def build_overview(*, window: str = "day", channel: Channel | None = None) -> Overview:
    length, bucket, label_format = WINDOWS[window]
    since = timezone.now() - length
    result = Overview(window=window, channel=channel, since=since)
    decisions = _scoped(RoutingDecision.objects.all(), channel, since)
    counts = decisions.aggregate(
        decisions=Count("id"),
        no_agent=Count("id", filter=Q(chosen_agent="")),
        fallback=Count("id", filter=Q(strategy="fallback")),
        clarification=Count("id", filter=Q(strategy="clarification")),
        follow_ups=Count("id", filter=Q(strategy="follow-up")),
    )
    for name, value in counts.items():
        setattr(result, name, value)
    result.per_agent = [
        (row["chosen_agent"] or "(no agent)", row["n"])
        for row in decisions.values("chosen_agent").annotate(n=Count("id")).order_by("-n", "chosen_agent")[:TOP_AGENTS]
    ]
    bins = decisions.aggregate(
        **{
            f"b{i}": Count(
                "id",
                filter=(Q(confidence__gte=i / CONFIDENCE_BINS) if i else Q(confidence__isnull=False))
                & (Q(confidence__lt=(i + 1) / CONFIDENCE_BINS) if i < CONFIDENCE_BINS - 1 else Q()),
            )
            for i in range(CONFIDENCE_BINS)
        }
    )
    result.confidence_bins = [(f"{i / CONFIDENCE_BINS:.1f}", bins[f"b{i}"]) for i in range(CONFIDENCE_BINS)]
    result.routing_ms = percentiles(decisions, "latency_ms", (0.5, 0.95))

    turn_model = RoutingDecision._meta.get_field("turn").related_model
    turns = _scoped(turn_model.objects.all(), channel, since)
    result.turns = turns.count()
    result.turn_ms = percentiles(turns, "latency_ms", (0.5, 0.95))
    failed = turns.filter(error_code__in=AGENT_ERRORS)
    result.errors_per_agent = [
        (row["agent_name"] or "(unknown)", row["n"])
        for row in failed.values("agent_name").annotate(n=Count("id")).order_by("-n", "agent_name")[:TOP_AGENTS]
    ]
    result.agent_errors = sum(n for _, n in result.errors_per_agent)

    tz = timezone.get_current_timezone()
    timeline = (
        decisions.annotate(bucket=Trunc("created_at", bucket, tzinfo=tz))
        .values("bucket")
        .annotate(total=Count("id"), none=Count("id", filter=Q(chosen_agent="")))
        .order_by("bucket")
    )
    result.timeline = [
        (timezone.localtime(row["bucket"], tz).strftime(label_format), row["total"], row["none"]) for row in timeline
    ]
    return result


def _latency_rows(values: list[float | None]) -> list[tuple[str, float]]:
    return [(label, round(value, 1)) for label, value in zip(("p50", "p95"), values, strict=True) if value is not None]


def charts_of(view: Overview) -> dict[str, Any]:
    return {
        "per_agent": charts.bar_chart(view.per_agent, title="Decisions per agent"),
        "timeline": charts.column_chart(
            [label for label, _, _ in view.timeline],
            [
                ("with an agent", [total - none for _, total, none in view.timeline]),
                ("no agent", [none for _, _, none in view.timeline]),
            ],
            title="Decisions over time",
            stacked=True,
        ),
        "confidence": charts.column_chart(
            [label for label, _ in view.confidence_bins],
            [("decisions", [n for _, n in view.confidence_bins])],
            title="Distribution of the routing confidence",
        ),
        "routing_latency": charts.bar_chart(_latency_rows(view.routing_ms), title="Routing latency", unit=" ms"),
        "turn_latency": charts.bar_chart(_latency_rows(view.turn_ms), title="Turn latency", unit=" ms"),
        "errors": charts.bar_chart(view.errors_per_agent, title="Agent errors per agent"),
    }


def overview_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET ?window=hour|day|week&channel=<Channel id> (no channel: every channel)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    window = request.GET.get("window", "day")
    if window not in WINDOWS:
        window = "day"
    channel = None
    channel_param = request.GET.get("channel", "")
    if channel_param.isdigit():
        channel = Channel.objects.select_related("tenant").filter(pk=int(channel_param)).first()
    view = build_overview(window=window, channel=channel)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Routing overview: {channel or 'all channels'}",
        "opts": model_admin.model._meta,
        "overview": view,
        "charts": charts_of(view),
        "windows": list(WINDOWS),
        "channels": Channel.objects.select_related("tenant").order_by("tenant__tenant_id", "channel_id", "subset"),
    }
    return TemplateResponse(request, "admin/routing/overview.html", context)
