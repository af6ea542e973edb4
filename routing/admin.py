from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from routing.models import RoutingDecision


def candidates_table(candidates: list[dict]) -> str:
    if not candidates:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td style='text-align:right'>{}</td></tr>",
        ((c.get("agent", ""), f"{float(c.get('score', 0.0)):.3f}") for c in candidates),
    )
    return format_html("<table><tr><th>agent</th><th>score</th></tr>{}</table>", rows)


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "tenant",
        "channel_id",
        "conversation_id",
        "strategy",
        "chosen_agent",
        "top_score",
        "fallback",
        "latency_ms",
    )
    list_filter = (
        "strategy",
        "tenant",
        "channel_id",
        "chosen_agent",
        "fallback",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("conversation_id", "chosen_agent", "turn__conversation__user_id")
    date_hierarchy = "created_at"
    exclude = ("candidates",)
    readonly_fields = (
        "tenant",
        "turn",
        "conversation_id",
        "channel_id",
        "subset",
        "strategy",
        "chosen_agent",
        "reason",
        "fallback",
        "latency_ms",
        "registry_version",
        "created_at",
        "candidate_scores",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="top score")
    def top_score(self, decision: RoutingDecision) -> str:
        return f"{decision.candidates[0]['score']:.3f}" if decision.candidates else "—"

    @admin.display(description="candidates")
    def candidate_scores(self, decision: RoutingDecision) -> str:
        return candidates_table(decision.candidates)
