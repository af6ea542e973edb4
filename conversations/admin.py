from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from conversations.models import Conversation, Turn


def _pretty(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;margin:0'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False)
    )


def decision_links(turn: Turn) -> str:
    """Links to the turn's routing decisions (one per attempt; a turn that found no agent
    has one too)."""
    decisions = list(turn.routing_decisions.all())
    if not decisions:
        return "—"
    return format_html_join(
        ", ",
        "<a href='{}'>{}</a>",
        (
            (
                reverse("admin:routing_routingdecision_change", args=[d.pk]),
                f"{d.strategy} → {d.chosen_agent or 'no agent'}",
            )
            for d in decisions
        ),
    )


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0
    fields = (
        "turn_id",
        "created_at",
        "status",
        "agent_name",
        "routing_strategy",
        "routing_decision",
        "user_query",
        "answer_text",
        "error_code",
        "latency_ms",
    )
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("routing_decisions")

    @admin.display(description="routing decision")
    def routing_decision(self, turn: Turn) -> str:
        return decision_links(turn)

    @admin.display(description="query")
    def user_query(self, turn: Turn) -> str:
        return (turn.messages[-1].get("content", "") if turn.messages else "")[:200]

    @admin.display(description="answer")
    def answer_text(self, turn: Turn) -> str:
        return ((turn.answer or {}).get("content") or "")[:200]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("conversation_id", "tenant", "channel_id", "subset", "user_id", "current_agent", "updated_at")
    list_filter = ("tenant", "channel_id", "subset", "current_agent", ("updated_at", admin.DateFieldListFilter))
    search_fields = ("conversation_id", "user_id")
    readonly_fields = (
        "tenant",
        "conversation_id",
        "channel_id",
        "subset",
        "user_id",
        "current_agent",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "updated_at"
    inlines = [TurnInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = (
        "turn_id",
        "conversation",
        "tenant",
        "channel_id",
        "status",
        "agent_name",
        "routing_strategy",
        "error_code",
        "latency_ms",
        "created_at",
    )
    list_filter = (
        "status",
        "tenant",
        "channel_id",
        "agent_name",
        "routing_strategy",
        "error_code",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("turn_id", "conversation__conversation_id", "conversation__user_id")
    date_hierarchy = "created_at"
    exclude = ("messages", "request", "answer", "agent_messages", "agent_events")
    readonly_fields = (
        "tenant",
        "conversation",
        "turn_id",
        "channel_id",
        "subset",
        "status",
        "agent_name",
        "routing_strategy",
        "routing_decision",
        "error_code",
        "error_message",
        "latency_ms",
        "attempts",
        "created_at",
        "completed_at",
        "request_hash",
        "messages_pretty",
        "request_pretty",
        "answer_pretty",
    )

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="routing decision")
    def routing_decision(self, turn: Turn) -> str:
        return decision_links(turn)

    @admin.display(description="messages")
    def messages_pretty(self, turn: Turn) -> str:
        return _pretty(turn.messages)

    @admin.display(description="request context")
    def request_pretty(self, turn: Turn) -> str:
        return _pretty(turn.request)

    @admin.display(description="answer")
    def answer_pretty(self, turn: Turn) -> str:
        return _pretty({"answer": turn.answer, "agentMessages": turn.agent_messages, "agentEvents": turn.agent_events})
