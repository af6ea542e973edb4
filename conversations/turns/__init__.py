"""The turn store: how a turn is claimed, finished and read back.

Idempotency is settled in the database: (conversation, turn id) is unique, and the first
request inserts a pending row owned by its process (`_lease`). A retry of a completed turn
replays the stored answer; a concurrent duplicate waits for the pending row to settle
while its owner is alive; a retry of a failed turn, or of a pending turn whose owner's
lease lapsed (the process died), claims it again with a conditional UPDATE that exactly
one request wins. An attempt's finish only counts while the turn is still its own, so at
most one completed answer is stored per turn id.

Two backends sit side by side behind this API, storing the same rows by the same rules
(`_base`): plain SQL on the event loop on PostgreSQL (`_pg`, the fast path), the ORM in a
worker thread elsewhere (`_orm`). Neither holds a connection while the agent is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Iterator
from contextvars import ContextVar
from types import ModuleType

from conversations.turns import _orm, _pg
from conversations.turns._base import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    Claim,
    ClaimRequest,
    Settled,
    StoredTurn,
    stale_after,
)
from conversations.turns._lease import instance_id, stop_heartbeat
from core import errors, pg, tracing

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "PENDING",
    "Claim",
    "ClaimRequest",
    "Settled",
    "StoredTurn",
    "backend_name",
    "instance_id",
    "stop_heartbeat",
    "turn_claim",
    "turn_finish",
    "turn_read",
    "turn_wait",
    "using_backend",
]

_BACKENDS: dict[str, ModuleType] = {"orm": _orm, "pg": _pg}
_forced: ContextVar[str | None] = ContextVar("turn_store_backend", default=None)


def backend_name() -> str:
    """`pg` when the database is PostgreSQL, else `orm` (or what `using_backend` chose)."""
    return _forced.get() or ("pg" if pg.available() else "orm")


@contextlib.contextmanager
def using_backend(name: str) -> Iterator[None]:
    """Run the turns of this context on one backend (the parity test and tools: the ORM
    backend also works on PostgreSQL)."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown turn-store backend {name!r}")
    if name == "pg" and not pg.available():
        raise ValueError("the pg turn-store backend needs PostgreSQL")
    token = _forced.set(name)
    try:
        yield
    finally:
        _forced.reset(token)


def _backend() -> ModuleType:
    return _BACKENDS[backend_name()]


@tracing.traced("turn_store.claim")
async def turn_claim(*, request: ClaimRequest) -> Claim:
    """Store the turn as pending (with its conversation when new), or decide what to do
    with the row of the same turn id. Raises Unauthorized / Forbidden (when a key is
    required) and TurnConflict (same turn id, different body)."""
    return await _backend().claim(request)


@tracing.traced("turn_store.finish")
async def turn_finish(*, claim: Claim, settled: Settled) -> bool:
    """Store how the attempt ended: the turn's columns, its routing decision, and the
    conversation's current agent when it completed. One transaction.

    False (nothing stored) when the turn is no longer this attempt's: another request
    took it over after this process's lease lapsed.
    """
    return await _backend().finish(claim, settled)


@tracing.traced("turn_store.read")
async def turn_read(*, claim: Claim) -> StoredTurn:
    """The turn as stored now."""
    return await _backend().read(claim)


async def turn_wait(*, claim: Claim, request: ClaimRequest) -> Claim:
    """Wait for a turn another request runs. Returns a claim to `replay` (the turn settled;
    `stored` holds how) or to `proceed` (its owner died and this request took it over).

    Raises AgentTimeout when a live owner does not settle it within the longest possible
    attempt.
    """
    deadline = time.monotonic() + stale_after().total_seconds()
    delay = 0.02
    while time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)
        stored = await turn_read(claim=claim)
        if stored.status != PENDING:
            return dataclasses.replace(claim, action="replay", stored=stored)
        if not stored.owner_alive:
            again = await turn_claim(request=request)
            if again.action != "wait":
                return again
    raise errors.AgentTimeout("The first request for this turn did not finish in time")
