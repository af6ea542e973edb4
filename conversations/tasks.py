from __future__ import annotations

from celery import shared_task
from django.conf import settings

from conversations.services import conversations_purge


@shared_task
def purge_old_conversations() -> tuple[int, int]:
    """Retention (CONVERSATION_RETENTION_DAYS), scheduled hourly by beat when set."""
    if not settings.CONVERSATION_RETENTION_DAYS:
        return (0, 0)
    return conversations_purge(older_than_days=settings.CONVERSATION_RETENTION_DAYS)
