"""The turn store as plain SQL on PostgreSQL, run on the event loop (no worker thread, no
ORM compilation): the common turn costs one statement to claim and one to finish.

Every statement names the tenant. Same rows and same rules as `_orm`
(tests/test_turn_store_parity.py holds them equal).
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.utils import timezone
from psycopg.types.json import Jsonb

from agents.auth import api_key_check_on
from agents.models import Tenant
from agents.selectors import channel_registry_cached
from agents.services import registry_note_traffic
from conversations.turns._base import (
    HISTORY_ANSWER_CHARS,
    PENDING,
    Claim,
    ClaimRequest,
    Settled,
    StoredTurn,
    owner_alive,
    retry_action,
)
from conversations.turns._lease import ensure_lease
from core import pg
from core.db import db

# One statement, so one round trip: read the tenant (and whether its subset is known) and
# the conversation, make the conversation when new, insert the pending turn, and read the
# conversation's earlier completed turns. Data-modifying CTEs run exactly once; the history
# is read from the statement's snapshot, which does not hold the new turn.
# Every lookup is an equality the planner can only serve from the conversation's own
# indexes, whatever the table statistics say: with none (a new database, autovacuum off),
# it scanned all of the tenant's turns for the history, ~3 ms per turn at 5,000 turns and
# growing. `OFFSET 0` keeps the history scan to the conversation's rows (the tenant index
# also orders by time and looked cheaper without statistics).
CLAIM = f"""
WITH t AS (
    SELECT id, registry_version,
           EXISTS (SELECT 1 FROM agents_registrytarget r WHERE r.tenant_id = agents_tenant.id
                   AND r.subset = %(subset)s) AS known
    FROM agents_tenant WHERE tenant_id = %(tenant)s
), c_old AS (
    SELECT c.id, c.current_agent FROM conversations_conversation c
    WHERE c.tenant_id = (SELECT id FROM t) AND c.conversation_id = %(conversation)s
), c_new AS (
    INSERT INTO conversations_conversation
        (tenant_id, conversation_id, channel_id, subset, user_id, current_agent, created_at, updated_at)
    SELECT t.id, %(conversation)s, %(channel)s, %(subset)s, %(user)s, '', now(), now() FROM t
    WHERE t.known AND NOT EXISTS (SELECT 1 FROM c_old)
    ON CONFLICT (tenant_id, conversation_id) DO NOTHING
    RETURNING id, current_agent
), c AS (
    SELECT id, current_agent FROM c_old UNION ALL SELECT id, current_agent FROM c_new
), turn AS (
    INSERT INTO conversations_turn
        (tenant_id, conversation_id, turn_id, request_hash, channel_id, subset, messages, request, status,
         agent_name, routing_strategy, answer, agent_messages, agent_events, error_code, error_message, latency_ms,
         attempts, owner, created_at, started_at, completed_at)
    SELECT t.id, c.id, %(turn)s, %(hash)s, %(channel)s, %(subset)s, %(messages)s, %(request)s, 'pending',
           '', '', NULL, '[]'::jsonb, '[]'::jsonb, '', '', NULL, 1, %(owner)s, now(), now(), NULL
    FROM t, c WHERE t.known
    ON CONFLICT (conversation_id, turn_id) DO NOTHING
    RETURNING id
)
SELECT t.id, t.registry_version, t.known, (SELECT id FROM c), (SELECT current_agent FROM c), (SELECT id FROM turn),
       (SELECT COALESCE(json_agg(json_build_array(h.query, h.agent, h.answer) ORDER BY h.created_at, h.id), '[]')
        FROM (SELECT tu.messages -> -1 ->> 'content' AS query, tu.agent_name AS agent,
                     left(tu.answer ->> 'content', {HISTORY_ANSWER_CHARS}) AS answer, tu.created_at, tu.id
              FROM (SELECT * FROM conversations_turn WHERE conversation_id = (SELECT id FROM c_old) OFFSET 0) tu
              WHERE tu.tenant_id = t.id AND tu.status = 'completed'
              ORDER BY tu.created_at DESC, tu.id DESC LIMIT %(limit)s) h)
FROM t
"""

# A turn's outcome, then who owns it: the owner, when its attempt started, and whether the
# owner's lease is current (on the database's clock, which renews it).
_STORED = """t.status, t.answer, t.agent_name, t.routing_strategy, t.error_code, t.error_message, t.agent_messages,
    t.agent_events, t.owner, t.started_at, COALESCE(i.lease_until > now(), false)
FROM conversations_turn t LEFT JOIN conversations_instance i ON i.instance_id = t.owner AND t.owner <> ''"""

# The row of a turn id sent before (a retry, a duplicate or a conflict).
_EXISTING = f"""
SELECT t.id, t.request_hash, t.attempts, {_STORED}
WHERE t.tenant_id = %(tenant_pk)s AND t.conversation_id = %(conversation_pk)s AND t.turn_id = %(turn)s
"""

# A retry makes the settled (or abandoned) turn its own attempt. Every attempt raises
# `attempts`, so exactly one request wins.
_RECLAIM = """
UPDATE conversations_turn
SET status = 'pending', owner = %(owner)s, started_at = now(), attempts = attempts + 1, error_code = '',
    error_message = ''
WHERE tenant_id = %(tenant_pk)s AND id = %(turn_pk)s AND status = %(status)s AND attempts = %(attempts)s
"""

_READ = f"SELECT {_STORED} WHERE t.tenant_id = %s AND t.id = %s"

# One statement, atomic on its own: settle the turn, store the routing decision (when
# there is one), and record the conversation's current agent (when the turn completed).
_FINISH = """
WITH turn AS (
    UPDATE conversations_turn
    SET status = %(status)s, completed_at = now(), latency_ms = %(latency_ms)s, routing_strategy = %(routing_strategy)s,
        agent_name = %(agent_name)s, answer = COALESCE(%(answer)s, answer),
        agent_messages = COALESCE(%(agent_messages)s, agent_messages),
        agent_events = COALESCE(%(agent_events)s, agent_events),
        error_code = %(error_code)s, error_message = %(error_message)s
    WHERE tenant_id = %(tenant_pk)s AND id = %(turn_pk)s AND attempts = %(attempt)s AND owner = %(owner)s
    RETURNING id
), decision AS (
    INSERT INTO routing_routingdecision
        (tenant_id, turn_id, conversation_id, channel_id, subset, strategy, chosen_agent, candidates, reason,
         fallback, latency_ms, confidence, relevance, registry_version, created_at)
    SELECT %(tenant_pk)s, turn.id, %(conversation)s, %(d_channel_id)s, %(d_subset)s, %(d_strategy)s,
           %(d_chosen_agent)s, %(d_candidates)s, %(d_reason)s, %(d_fallback)s::boolean, %(d_latency_ms)s::float8,
           %(d_confidence)s::float8, %(d_relevance)s::float8, %(d_registry_version)s::bigint, now()
    FROM turn WHERE %(has_decision)s
), conversation AS (
    UPDATE conversations_conversation SET current_agent = %(current_agent)s, updated_at = now()
    WHERE tenant_id = %(tenant_pk)s AND id = %(conversation_pk)s AND %(current_agent)s <> ''
      AND EXISTS (SELECT 1 FROM turn)
)
SELECT count(*) FROM turn
"""

_NO_DECISION = {
    "channel_id": "",
    "subset": "",
    "strategy": "",
    "chosen_agent": "",
    "candidates": [],
    "reason": "",
    "fallback": False,
    "latency_ms": 0.0,
    "confidence": None,
    "relevance": None,
    "registry_version": None,
}


def _stored(row: tuple) -> StoredTurn:
    status, answer, agent, strategy, error_code, error_message, agent_messages, agent_events = row[:8]
    owner, started_at, current = row[8:]
    alive = status == PENDING and owner_alive(
        owner=owner, lease_current=current, started_at=started_at, now=timezone.now()
    )
    return StoredTurn(
        owner_alive=alive,
        status=status,
        answer=answer,
        agent=agent,
        strategy=strategy,
        error_code=error_code,
        error_message=error_message,
        agent_messages=agent_messages or [],
        agent_events=agent_events or [],
    )


async def _claim_on(
    conn: psycopg.AsyncConnection, request: ClaimRequest, *, owner: str, check_key: bool
) -> Claim | None:
    """The claim on one connection; None when the tenant or its subset is not known yet."""
    if check_key:
        await api_key_check_on(conn, tenant_id=request.tenant_id, authorization=request.authorization)
    args = {
        "tenant": request.tenant_id,
        "conversation": request.conversation_id,
        "turn": request.turn_id,
        "channel": request.channel_id,
        "subset": request.subset,
        "user": request.user_id,
        "hash": request.request_hash,
        "messages": Jsonb(request.messages),
        "request": Jsonb(request.request),
        "limit": request.history_turns,
        "owner": owner,
    }
    row = await (await conn.execute(CLAIM, args)).fetchone()
    if row is not None and row[2] and row[3] is None:
        # A concurrent first turn made the conversation after this statement's snapshot
        # was taken: the next statement sees it.
        row = await (await conn.execute(CLAIM, args)).fetchone()
    if row is None or not row[2]:
        return None
    tenant_pk, registry_version, _, conversation_pk, current_agent, turn_pk, history = row
    claim = Claim(
        action="proceed",
        tenant=Tenant(pk=tenant_pk, tenant_id=request.tenant_id, registry_version=registry_version),
        turn_pk=turn_pk,
        conversation_pk=conversation_pk,
        conversation_id=request.conversation_id,
        current_agent=current_agent,
        history=[{"query": query or "", "agent": agent, "answer": answer or ""} for query, agent, answer in history],
    )
    if turn_pk is None:
        keys = {"tenant_pk": tenant_pk, "conversation_pk": conversation_pk, "turn": request.turn_id}
        existing = await (await conn.execute(_EXISTING, keys)).fetchone()
        claim.turn_pk, stored_hash, attempts = existing[:3]
        stored = _stored(existing[3:])
        action = retry_action(request=request, stored_hash=stored_hash, status=stored.status, alive=stored.owner_alive)
        claim.attempt = attempts + 1
        if action == "reclaim":
            keys = {
                "tenant_pk": tenant_pk,
                "turn_pk": claim.turn_pk,
                "status": stored.status,
                "attempts": attempts,
                "owner": owner,
            }
            won = (await conn.execute(_RECLAIM, keys)).rowcount
            action = "proceed" if won == 1 else "wait"
        claim.action = action
        if action == "replay":
            claim.stored = stored
    if claim.action == "proceed":
        claim.registry = channel_registry_cached(
            tenant_pk=tenant_pk, registry_version=registry_version, channel_id=request.channel_id, subset=request.subset
        )
    else:
        claim.current_agent, claim.history = "", []
    return claim


async def claim(request: ClaimRequest) -> Claim:
    owner = await ensure_lease()
    result = await pg.run(lambda conn: _claim_on(conn, request, owner=owner, check_key=request.require_key))
    if result is None:
        # First traffic for this tenant or subset: the registry records it, then claim again.
        await db(registry_note_traffic)(tenant_id=request.tenant_id, subset=request.subset)
        result = await pg.run(lambda conn: _claim_on(conn, request, owner=owner, check_key=False))
        assert result is not None
    return result


async def read(claim: Claim) -> StoredTurn:
    async def block(conn: psycopg.AsyncConnection) -> StoredTurn:
        return _stored(await (await conn.execute(_READ, (claim.tenant.pk, claim.turn_pk))).fetchone())

    return await pg.run(block)


async def finish(claim: Claim, settled: Settled) -> bool:
    columns = settled.turn_columns()
    decision = settled.decision_columns()
    args: dict[str, Any] = {
        "tenant_pk": claim.tenant.pk,
        "turn_pk": claim.turn_pk,
        "attempt": claim.attempt,
        "owner": await ensure_lease(),
        "conversation_pk": claim.conversation_pk,
        "conversation": claim.conversation_id,
        **columns,
        "answer": Jsonb(columns["answer"]) if "answer" in columns else None,
        "agent_messages": Jsonb(columns["agent_messages"]) if "agent_messages" in columns else None,
        "agent_events": Jsonb(columns["agent_events"]) if "agent_events" in columns else None,
        "current_agent": settled.current_agent,
        "has_decision": decision is not None,
    }
    for key, value in (decision or _NO_DECISION).items():
        args[f"d_{key}"] = Jsonb(value) if key == "candidates" else value

    async def block(conn: psycopg.AsyncConnection) -> bool:
        # 0 when the turn was taken over meanwhile: the other attempt's outcome stands.
        return (await (await conn.execute(_FINISH, args)).fetchone())[0] == 1

    return await pg.run(block)
