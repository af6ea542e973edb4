"""What both turn-store backends share: the shapes they exchange with the conversation
service and the rules they apply, so that only the storage differs between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from agents.models import Tenant
from agents.specs import ChannelRegistry
from conversations.turns._lease import instance_id
from core import errors
from routing.base import Decision
from routing.services import decision_fields

PENDING, COMPLETED, FAILED, CANCELLED = "pending", "completed", "failed", "cancelled"
# How much of each earlier answer the history keeps: the router reads what the agent said
# last (its question or offer) to decide follow-ups (routing/followup.py).
HISTORY_ANSWER_CHARS = 2000


@dataclass
class ClaimRequest:
    """A turn as the claim stores it (ids validated by the API layer)."""

    tenant_id: str
    conversation_id: str
    turn_id: str
    channel_id: str
    subset: str
    user_id: str
    request_hash: str
    messages: list[dict[str, Any]]
    request: dict[str, Any]  # systemContext, userContext, explicitAgent, anonymizationEntities
    authorization: str | None = None
    require_key: bool = False
    history_turns: int = 10


@dataclass
class StoredTurn:
    """A turn's outcome as stored (the replay of a completed turn, or what a waiter sees)."""

    status: str
    answer: dict[str, Any] | None = None
    agent: str = ""
    strategy: str = ""
    error_code: str = ""
    error_message: str = ""
    agent_messages: list[dict[str, Any]] = field(default_factory=list)
    agent_events: list[dict[str, Any]] = field(default_factory=list)
    # Whether a pending turn's owner is alive (its lease is current, or it is this process).
    owner_alive: bool = True


@dataclass
class Claim:
    """What the claim decided: `proceed` (this request runs the turn), `replay` (the turn
    is settled: `stored`), or `wait` (another request runs it)."""

    action: str
    tenant: Tenant
    turn_pk: int
    conversation_pk: int
    conversation_id: str
    # The attempt this request runs (with `proceed`): its finish only counts while the
    # turn is still at this attempt and owned by this process.
    attempt: int = 1
    current_agent: str = ""
    # Earlier completed turns of the conversation, oldest first: {"query", "agent", "answer"}.
    history: list[dict[str, str]] = field(default_factory=list)
    stored: StoredTurn | None = None
    # The channel's registry when the backend could read it on the way (else None).
    registry: ChannelRegistry | None = None


@dataclass
class Settled:
    """How an attempt ended: the columns both backends write."""

    status: str
    latency_ms: float
    decision: Decision | None = None
    registry: ChannelRegistry | None = None
    answer: dict[str, Any] | None = None
    agent_messages: list[dict[str, Any]] | None = None
    agent_events: list[dict[str, Any]] | None = None
    error_code: str = ""
    error_message: str = ""

    def turn_columns(self) -> dict[str, Any]:
        """The turn's columns; answer, agent messages and events only when the attempt gave them."""
        columns: dict[str, Any] = {
            "status": self.status,
            "latency_ms": self.latency_ms,
            "routing_strategy": self.decision.strategy if self.decision else "",
            "agent_name": (self.decision.agent or "") if self.decision else "",
            "error_code": self.error_code,
            "error_message": self.error_message[:2000],
        }
        if self.answer is not None:
            columns["answer"] = self.answer
        if self.agent_messages is not None:
            columns["agent_messages"] = self.agent_messages
        if self.agent_events is not None:
            columns["agent_events"] = self.agent_events
        return columns

    def decision_columns(self) -> dict[str, Any] | None:
        """The RoutingDecision's columns (besides tenant, turn, conversation and time)."""
        if self.decision is None:
            return None
        fields = decision_fields(decision=self.decision, registry=self.registry)
        return {
            "channel_id": fields["channel"],
            "subset": fields["subset"],
            "strategy": fields["strategy"],
            "chosen_agent": fields["chosen"],
            "candidates": fields["candidates"],
            "reason": fields["reason"],
            "fallback": fields["fallback"],
            "latency_ms": fields["latency_ms"],
            "confidence": fields["confidence"],
            "relevance": fields["relevance"],
            "registry_version": fields["registry_version"],
        }

    @property
    def current_agent(self) -> str:
        """The conversation's agent from now on ("" = unchanged): set by a completed turn."""
        if self.status == COMPLETED and self.decision is not None and self.decision.agent:
            return self.decision.agent
        return ""


def stale_after() -> timedelta:
    # Longer than any attempt can take: registry fetch + routing (LLM) + the agent.
    return timedelta(
        seconds=settings.AGENT_TIMEOUT + settings.AGENT_REGISTRY_TIMEOUT + 2 * settings.OPENAI_API_TIMEOUT + 30
    )


def owner_alive(*, owner: str, lease_current: bool, started_at: datetime, now: datetime) -> bool:
    """Whether the owner of a pending turn still runs it."""
    if owner == instance_id():
        return True  # this process: it settles its own turns, lease or not
    if owner:
        return lease_current
    # Claimed without an owner (by a process of an earlier version): the longest attempt.
    return started_at > now - stale_after()


def retry_action(*, request: ClaimRequest, stored_hash: str, status: str, alive: bool) -> str:
    """What a request whose turn id exists already does with the row: `replay`, `wait`, or
    `reclaim` (try the conditional update that makes it this request's attempt: a retry of
    a failed turn, or the takeover of a turn whose owner died).

    Raises TurnConflict when the body differs from the first request's.
    """
    if stored_hash != request.request_hash:
        raise errors.TurnConflict(
            f"Turn {request.turn_id!r} of conversation {request.conversation_id!r} was sent before with a "
            "different body"
        )
    if status == COMPLETED:
        return "replay"
    if status == PENDING and alive:
        return "wait"
    return "reclaim"
