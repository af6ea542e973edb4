from __future__ import annotations

from functools import partial

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from agents.models import Channel
from core.errors import AgentNotFound
from routing.models import RoutingDecision
from routing.overview import overview_view


def candidates_table(candidates: list[dict]) -> str:
    if not candidates:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td style='text-align:right'>{}</td></tr>",
        ((c.get("agent", ""), f"{float(c.get('score', 0.0)):.3f}") for c in candidates),
    )
    return format_html("<table><tr><th>agent</th><th>score</th></tr>{}</table>", rows)


class TestRoutingForm(forms.Form):
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.filter(active=True).select_related("tenant"),
        help_text="tenant / channel / subset",
    )
    query = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=4000)
    router = forms.ChoiceField(
        choices=[("", "ROUTER_TYPE (default)"), *((r, r) for r in ("vector", "llm", "hybrid"))], required=False
    )
    current_agent = forms.CharField(required=False, help_text="optional: the conversation's current agent")
    previous_query = forms.CharField(required=False, help_text="optional: the previous user message")
    agent_message = forms.CharField(
        required=False, help_text="optional: what the agent said last (its question or offer)"
    )


def route_for_admin(
    *,
    channel: Channel,
    query: str,
    router: str | None,
    current_agent: str = "",
    previous: str = "",
    agent_message: str = "",
):
    """Route `query` as a turn would, without writing anything: (decision or error, every
    agent's vector score)."""
    from agents.selectors import channel_registry
    from routing.base import RouteRequest
    from routing.services import route_query
    from routing.vector import rank

    registry = channel_registry(tenant=channel.tenant, channel_id=channel.channel_id, subset=channel.subset)
    if registry is None or not registry.agents:
        return None, "No agents are installed in this channel.", []
    messages = [{"role": "user", "content": previous}] if previous else []
    if agent_message:
        messages.append({"role": "assistant", "content": agent_message})
    request = RouteRequest(
        query=query,
        messages=[*messages, {"role": "user", "content": query}],
        registry=registry,
        current_agent=current_agent or None,
    )
    try:
        decision, error = async_to_sync(route_query)(request=request, router_type=router or None), ""
    except AgentNotFound as exc:
        decision, error = exc.decision, exc.message
    (ranking,) = async_to_sync(rank)(registry, [query])
    return decision, error, ranking.scores


class OutcomeFilter(admin.SimpleListFilter):
    """Decisions that chose an agent, and the ones where the router found none (the turn
    was turned away, or answered by the channel's fallback agent or a clarification)."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("agent", "an agent"), ("none", "no agent")]

    def queryset(self, request, queryset):
        no_agent = Q(chosen_agent="") | Q(strategy="fallback")
        if self.value() == "agent":
            return queryset.exclude(no_agent)
        if self.value() == "none":
            return queryset.filter(no_agent)
        return queryset


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    change_list_template = "admin/routing/routingdecision/change_list.html"
    list_display = (
        "created_at",
        "tenant",
        "channel_id",
        "conversation_id",
        "strategy",
        "chosen_agent_or_none",
        "top_score",
        "confidence",
        "fallback",
        "latency_ms",
    )
    list_filter = (
        OutcomeFilter,
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
        "confidence",
        "relevance",
        "latency_ms",
        "registry_version",
        "created_at",
        "candidate_scores",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def get_urls(self):
        extra = [
            path("test-routing/", self.admin_site.admin_view(self.test_routing_view), name="routing_test_routing"),
            path("overview/", self.admin_site.admin_view(partial(overview_view, self)), name="routing_overview"),
        ]
        return extra + super().get_urls()

    def test_routing_view(self, request: HttpRequest) -> HttpResponse:
        """Type a query, see the decision and every agent's score; nothing is stored."""
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = TestRoutingForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            decision, error, scores = route_for_admin(
                channel=data["channel"],
                query=data["query"],
                router=data["router"],
                current_agent=data["current_agent"],
                previous=data["previous_query"],
                agent_message=data["agent_message"],
            )
            result = {
                "decision": decision,
                "error": error,
                "decision_candidates": candidates_table([c.as_dict() for c in decision.candidates]) if decision else "",
                "scores": candidates_table([{"agent": a, "score": s} for a, s in scores]),
            }
        context = {
            **self.admin_site.each_context(request),
            "title": "Test routing",
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/routing/test_routing.html", context)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="chosen agent", ordering="chosen_agent")
    def chosen_agent_or_none(self, decision: RoutingDecision) -> str:
        return decision.chosen_agent or "— no agent —"

    @admin.display(description="top score")
    def top_score(self, decision: RoutingDecision) -> str:
        return f"{decision.candidates[0]['score']:.3f}" if decision.candidates else "—"

    @admin.display(description="candidates")
    def candidate_scores(self, decision: RoutingDecision) -> str:
        return candidates_table(decision.candidates)
