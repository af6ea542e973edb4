"""The learning actions on the registry's channel admin page. The agents app knows nothing
of routing, so RoutingConfig.ready adds these to its ChannelAdmin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.admin import ChannelAdmin
from agents.models import Channel
from routing.learning import forget, learn_channel


@admin.action(description="Learn routing examples from traffic now")
def learn_now(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
    for channel in queryset.select_related("tenant"):
        model_admin.message_user(request, f"{channel}: {learn_channel(channel)} learned examples", messages.SUCCESS)


@admin.action(description="Forget learned routing examples")
def forget_learned(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
    for channel in queryset:
        forget(channel)
    model_admin.message_user(
        request, f"Forgot the learned examples of {queryset.count()} channel(s).", messages.SUCCESS
    )


def install() -> None:
    """Add the actions to ChannelAdmin (once)."""
    new = [action for action in (learn_now, forget_learned) if action not in ChannelAdmin.actions]
    ChannelAdmin.actions = [*ChannelAdmin.actions, *new]
