from __future__ import annotations

from celery import shared_task
from django.conf import settings

from agents.services import tenants_prune_unused
from conversations.models import Conversation
from conversations.services import conversations_purge


@shared_task(name="conversations.tasks.purge_old_conversations", ignore_result=True)
def purge_old_conversations() -> tuple[int, int, int]:
    """Retention (CONVERSATION_RETENTION_DAYS), run hourly by the schedule (settings.SCHEDULE): old
    conversations, then tenants seen only in traffic that have nothing left. Returns
    (conversations, turns, tenants) deleted."""
    if not settings.CONVERSATION_RETENTION_DAYS:
        return (0, 0, 0)
    conversations, turns = conversations_purge(older_than_days=settings.CONVERSATION_RETENTION_DAYS)
    tenants = tenants_prune_unused(
        older_than_days=settings.CONVERSATION_RETENTION_DAYS, in_use=Conversation.objects.values("tenant")
    )
    return conversations, turns, tenants
