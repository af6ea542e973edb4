"""The turn store on the Django ORM: the backend on SQLite (and a reference on any
database). Each block is synchronous and run in a worker thread by `core.db.db`."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.auth import api_key_authorize
from agents.selectors import channel_registry
from agents.services import registry_note_traffic
from conversations.models import Conversation, Instance, Turn
from conversations.turns._base import (
    HISTORY_ANSWER_CHARS,
    Claim,
    ClaimRequest,
    Settled,
    StoredTurn,
    owner_alive,
    retry_action,
)
from conversations.turns._lease import ensure_lease
from core.db import db
from routing.models import RoutingDecision


def _alive(turn: Turn, now) -> bool:
    if turn.status != Turn.Status.PENDING:
        return False
    current = bool(turn.owner) and Instance.objects.filter(instance_id=turn.owner, lease_until__gt=now).exists()
    return owner_alive(owner=turn.owner, lease_current=current, started_at=turn.started_at, now=now)


def _stored(turn: Turn, now) -> StoredTurn:
    return StoredTurn(
        owner_alive=_alive(turn, now),
        status=turn.status,
        answer=turn.answer,
        agent=turn.agent_name,
        strategy=turn.routing_strategy,
        error_code=turn.error_code,
        error_message=turn.error_message,
        agent_messages=turn.agent_messages or [],
        agent_events=turn.agent_events or [],
    )


def _claim(request: ClaimRequest, owner: str) -> Claim:
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
                owner=owner,
            )
        action, attempt = "proceed", 1
    except IntegrityError:
        turn = Turn.objects.get(tenant=tenant, conversation=conversation, turn_id=request.turn_id)
        now = timezone.now()
        action = retry_action(
            request=request, stored_hash=turn.request_hash, status=turn.status, alive=_alive(turn, now)
        )
        attempt = turn.attempts + 1
        if action == "reclaim":
            # Every attempt raises `attempts`: exactly one request wins this update.
            won = Turn.objects.filter(pk=turn.pk, status=turn.status, attempts=turn.attempts).update(
                status=Turn.Status.PENDING,
                owner=owner,
                started_at=now,
                attempts=attempt,
                error_code="",
                error_message="",
            )
            action = "proceed" if won == 1 else "wait"
    claim = Claim(
        action=action,
        tenant=tenant,
        turn_pk=turn.pk,
        conversation_pk=conversation.pk,
        conversation_id=conversation.conversation_id,
        attempt=attempt,
    )
    if action == "replay":
        claim.stored = _stored(turn, timezone.now())
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
    return _stored(Turn.objects.get(tenant=claim.tenant, pk=claim.turn_pk), timezone.now())


def _finish(claim: Claim, settled: Settled, owner: str) -> bool:
    now = timezone.now()
    decision = settled.decision_columns()
    with transaction.atomic():
        won = Turn.objects.filter(tenant=claim.tenant, pk=claim.turn_pk, attempts=claim.attempt, owner=owner).update(
            **settled.turn_columns(), completed_at=now
        )
        if not won:
            return False  # taken over meanwhile: the other attempt's outcome stands
        if decision is not None:
            RoutingDecision.objects.create(
                tenant=claim.tenant, turn_id=claim.turn_pk, conversation_id=claim.conversation_id, **decision
            )
        if settled.current_agent:
            Conversation.objects.filter(tenant=claim.tenant, pk=claim.conversation_pk).update(
                current_agent=settled.current_agent, updated_at=now
            )
    return True


async def claim(request: ClaimRequest) -> Claim:
    owner = await ensure_lease()
    return await db(_claim)(request, owner)


async def finish(claim: Claim, settled: Settled) -> bool:
    return await db(_finish)(claim, settled, await ensure_lease())


read = db(_read)
