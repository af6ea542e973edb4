"""Reads of conversations, always scoped by tenant."""

from __future__ import annotations

from typing import Any

from agents.models import Channel, Tenant
from conversations.models import Conversation, Turn
from conversations.turns._base import HISTORY_ANSWER_CHARS
from core.errors import NotFound
from routing.learning import LEARN_STRATEGIES, Observation
from routing.models import RoutingDecision


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


def routed_queries(channel: Channel, limit: int) -> list[Observation]:
    """The channel's latest `limit` routing decisions the router took by itself (vector or
    hybrid, no fallback) for turns the agent answered, newest first, each with its query:
    what routing/learning.py learns from."""
    decisions = RoutingDecision.objects.filter(
        tenant_id=channel.tenant_id,
        channel_id=channel.channel_id,
        subset=channel.subset,
        strategy__in=LEARN_STRATEGIES,
        fallback=False,
        turn__status=Turn.Status.COMPLETED,
    ).exclude(chosen_agent="")
    rows = decisions.order_by("-created_at", "-pk").values_list("chosen_agent", "candidates", "turn__messages")[:limit]
    observations = []
    for agent, candidates, messages in rows:
        text = _query(messages)
        if text:
            observations.append(Observation(text=text, agent=agent, candidates=candidates or []))
    return observations


def _query(messages: object) -> str:
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        if isinstance(content, str):
            return content
    return ""


def conversation_routing_context(
    *, tenant: Tenant, conversation_id: str, history_turns: int
) -> tuple[str | None, list[dict[str, str]]]:
    """What routing reads from a stored conversation, as the turn store reads it for a turn
    (conversations/turns): the agent that answered last (None for a new conversation) and
    the last `history_turns` completed turns as {"query", "agent", "answer"}, oldest first."""
    conversation = Conversation.objects.filter(tenant=tenant, conversation_id=conversation_id).first()
    if conversation is None:
        return None, []
    previous = (
        Turn.objects.filter(tenant=tenant, conversation=conversation, status=Turn.Status.COMPLETED)
        .order_by("-created_at", "-id")
        .values_list("messages", "agent_name", "answer")[:history_turns]
    )
    history = [
        {
            "query": _query(messages),
            "agent": agent,
            "answer": str((answer or {}).get("content") or "")[:HISTORY_ANSWER_CHARS],
        }
        for messages, agent, answer in reversed(previous)
    ]
    return conversation.current_agent or None, history
