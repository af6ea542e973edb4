"""The turn store on the Django ORM: the backend on SQLite (and a reference on any
database). Each block is synchronous and run in a worker thread by `core.db.db`."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.auth import api_key_authorize
from agents.selectors import channel_registry
from agents.services import registry_note_traffic
from conversations.models import Conversation, Turn
from conversations.turns._base import HISTORY_ANSWER_CHARS, Claim, ClaimRequest, Settled, StoredTurn, retry_action
from core.db import db
from routing.models import RoutingDecision


def _stored(turn: Turn) -> StoredTurn:
    return StoredTurn(
        status=turn.status,
        answer=turn.answer,
        agent=turn.agent_name,
        strategy=turn.routing_strategy,
        error_code=turn.error_code,
        error_message=turn.error_message,
        agent_messages=turn.agent_messages or [],
        agent_events=turn.agent_events or [],
    )


def _claim(request: ClaimRequest) -> Claim:
    if request.require_key:
        api_key_authorize(tenant_id=request.tenant_id, authorization=request.authorization)
    tenant = registry_note_traffic(tenant_id=request.tenant_id, subset=request.subset)
    conversation, new_conversation = Conversation.objects.get_or_create(
        tenant=tenant,
        conversation_id=request.conversation_id,
        defaults={"channel_id": request.channel_id, "subset": request.subset, "user_id": request.user_id},
    )
    try:
        with transaction.atomic():
            turn = Turn.objects.create(
                tenant=tenant,
                conversation=conversation,
                turn_id=request.turn_id,
                request_hash=request.request_hash,
                channel_id=request.channel_id,
                subset=request.subset,
                messages=request.messages,
                request=request.request,
            )
        action = "proceed"
    except IntegrityError:
        turn = Turn.objects.get(tenant=tenant, conversation=conversation, turn_id=request.turn_id)
        now = timezone.now()
        action = retry_action(
            request=request, stored_hash=turn.request_hash, status=turn.status, started_at=turn.started_at, now=now
        )
        if action == "reclaim":
            claimed = Turn.objects.filter(pk=turn.pk, status=turn.status)
            if turn.status == Turn.Status.PENDING:
                claimed = claimed.filter(started_at=turn.started_at)
            won = claimed.update(
                status=Turn.Status.PENDING, started_at=now, attempts=turn.attempts + 1, error_code="", error_message=""
            )
            action = "proceed" if won == 1 else "wait"
    claim = Claim(
        action=action,
        tenant=tenant,
        turn_pk=turn.pk,
        conversation_pk=conversation.pk,
        conversation_id=conversation.conversation_id,
    )
    if action == "replay":
        claim.stored = _stored(turn)
    elif action == "proceed":
        claim.registry = channel_registry(tenant=tenant, channel_id=request.channel_id, subset=request.subset)
        if not new_conversation:
            claim.current_agent = conversation.current_agent
            previous = (
                Turn.objects.filter(tenant=tenant, conversation=conversation, status=Turn.Status.COMPLETED)
                .exclude(pk=turn.pk)
                .order_by("-created_at", "-id")
                .values_list("messages", "agent_name", "answer")[: request.history_turns]
            )
            claim.history = [
                {
                    "query": (msgs[-1].get("content", "") if msgs else ""),
                    "agent": agent,
                    "answer": str((answer or {}).get("content") or "")[:HISTORY_ANSWER_CHARS],
                }
                for msgs, agent, answer in reversed(previous)
            ]
    return claim


def _read(claim: Claim) -> StoredTurn:
    return _stored(Turn.objects.get(tenant=claim.tenant, pk=claim.turn_pk))


def _finish(claim: Claim, settled: Settled) -> None:
    now = timezone.now()
    decision = settled.decision_columns()
    with transaction.atomic():
        Turn.objects.filter(tenant=claim.tenant, pk=claim.turn_pk).update(**settled.turn_columns(), completed_at=now)
        if decision is not None:
            RoutingDecision.objects.create(
                tenant=claim.tenant, turn_id=claim.turn_pk, conversation_id=claim.conversation_id, **decision
            )
        if settled.current_agent:
            Conversation.objects.filter(tenant=claim.tenant, pk=claim.conversation_pk).update(
                current_agent=settled.current_agent, updated_at=now
            )


claim = db(_claim)
read = db(_read)
finish = db(_finish)
