"""Reads of conversations, always scoped by tenant."""

from __future__ import annotations

from typing import Any

from conversations.models import Conversation, Turn
from core.errors import NotFound


def conversation_history(*, tenant_id: str, conversation_id: str) -> dict[str, Any]:
    conversation = (
        Conversation.objects.select_related("tenant")
        .filter(tenant__tenant_id=tenant_id, conversation_id=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound(f"Conversation {conversation_id!r} not found for tenant {tenant_id!r}")
    turns = Turn.objects.filter(tenant=conversation.tenant, conversation=conversation).order_by("created_at", "id")
    return {
        "tenantId": tenant_id,
        "conversationId": conversation.conversation_id,
        "channelId": conversation.channel_id,
        "subset": conversation.subset,
        "turns": [
            {
                "turnId": t.turn_id,
                "createdAt": t.created_at.isoformat(),
                "status": t.status,
                "agent": t.agent_name or None,
                "routingStrategy": t.routing_strategy or None,
                "messages": t.messages,
                "answer": t.answer,
                "errorCode": t.error_code or None,
            }
            for t in turns
        ],
    }
