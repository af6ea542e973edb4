from __future__ import annotations

from celery import shared_task
from django.conf import settings

from agents.services import tenants_prune_unused
from conversations.services import conversations_purge


@shared_task
def purge_old_conversations() -> tuple[int, int, int]:
    """Retention (CONVERSATION_RETENTION_DAYS), scheduled hourly by beat when set: old
    conversations, then tenants seen only in traffic that have nothing left. Returns
    (conversations, turns, tenants) deleted."""
    if not settings.CONVERSATION_RETENTION_DAYS:
        return (0, 0, 0)
    conversations, turns = conversations_purge(older_than_days=settings.CONVERSATION_RETENTION_DAYS)
    tenants = tenants_prune_unused(older_than_days=settings.CONVERSATION_RETENTION_DAYS)
    return conversations, turns, tenants
