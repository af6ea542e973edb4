"""The turn path's database blocks as plain SQL on PostgreSQL, run on the event loop.

Same rows and same rules as the ORM blocks in `conversations.services` (which remain the
path on SQLite and for the rare cases): only the common case is handled here, and
anything unusual (a new tenant or subset, a retried turn id) answers None so that the
caller takes the ORM path. Every statement names the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from agents.auth import api_key_check
from core import pg

# One statement, so one round trip: read the tenant (and whether its subset is known) and
# the conversation, make the conversation when new, insert the pending turn, and read the
# conversation's earlier completed turns. Data-modifying CTEs run exactly once; the history
# is read from the statement's snapshot, which does not hold the new turn.
# Every lookup is an equality the planner can only serve from the conversation's own
# indexes, whatever the table statistics say: with none (a new database, autovacuum off),
# it scanned all of the tenant's turns for the history, ~3 ms per turn at 5,000 turns and
# growing. `OFFSET 0` keeps the history scan to the conversation's rows (the tenant index
# also orders by time and looked cheaper without statistics).
_CLAIM = """
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
         agent_name, routing_strategy, answer, agent_messages, error_code, error_message, latency_ms, attempts,
         created_at, started_at, completed_at)
    SELECT t.id, c.id, %(turn)s, %(hash)s, %(channel)s, %(subset)s, %(messages)s, %(request)s, 'pending',
           '', '', NULL, '[]'::jsonb, '', '', NULL, 1, now(), now(), NULL
    FROM t, c WHERE t.known
    ON CONFLICT (conversation_id, turn_id) DO NOTHING
    RETURNING id
)
SELECT t.id, t.registry_version, t.known, (SELECT id FROM c), (SELECT current_agent FROM c), (SELECT id FROM turn),
       (SELECT COALESCE(json_agg(json_build_array(h.query, h.agent) ORDER BY h.created_at, h.id), '[]')
        FROM (SELECT tu.messages -> -1 ->> 'content' AS query, tu.agent_name AS agent, tu.created_at, tu.id
              FROM (SELECT * FROM conversations_turn WHERE conversation_id = (SELECT id FROM c_old) OFFSET 0) tu
              WHERE tu.tenant_id = t.id AND tu.status = 'completed'
              ORDER BY tu.created_at DESC, tu.id DESC LIMIT %(limit)s) h)
FROM t
"""

# One statement, atomic on its own: settle the turn, store the routing decision (when
# there is one), and record the conversation's current agent (when the turn completed).
_FINISH = """
WITH turn AS (
    UPDATE conversations_turn
    SET status = %(status)s, completed_at = now(), latency_ms = %(latency_ms)s, routing_strategy = %(strategy)s,
        agent_name = %(agent)s, answer = COALESCE(%(answer)s, answer),
        agent_messages = COALESCE(%(agent_messages)s, agent_messages),
        error_code = %(error_code)s, error_message = %(error_message)s
    WHERE tenant_id = %(tenant_pk)s AND id = %(turn_pk)s
    RETURNING id
), decision AS (
    INSERT INTO routing_routingdecision
        (tenant_id, turn_id, conversation_id, channel_id, subset, strategy, chosen_agent, candidates, reason,
         fallback, latency_ms, confidence, relevance, registry_version, created_at)
    SELECT %(tenant_pk)s, turn.id, %(conversation)s, %(channel)s, %(subset)s, %(strategy)s, %(chosen)s,
           %(candidates)s, %(reason)s, %(fallback)s::boolean, %(decision_ms)s::float8,
           %(confidence)s::float8, %(relevance)s::float8, %(registry_version)s::bigint, now()
    FROM turn WHERE %(has_decision)s
), conversation AS (
    UPDATE conversations_conversation SET current_agent = %(current_agent)s, updated_at = now()
    WHERE tenant_id = %(tenant_pk)s AND id = %(conversation_pk)s AND %(current_agent)s <> ''
)
SELECT count(*) FROM turn
"""


@dataclass
class ClaimRow:
    """What the claim stored and read: a new pending turn, ready to route."""

    tenant_pk: int
    registry_version: int
    conversation_pk: int
    turn_pk: int
    current_agent: str = ""
    # Earlier completed turns, oldest first: {"query", "agent"}.
    history: list[dict[str, str]] = field(default_factory=list)


async def turn_claim(
    *,
    tenant_id: str,
    conversation_id: str,
    turn_id: str,
    channel_id: str,
    subset: str,
    user_id: str,
    request_hash: str,
    messages: list[dict[str, Any]],
    request: dict[str, Any],
    history_turns: int,
    authorization: str | None,
    require_key: bool,
) -> ClaimRow | None:
    """Insert the pending turn (and its conversation when new) and read what routing needs.

    None when the ORM path must decide: the tenant or its subset is not known yet, or the
    turn id exists already (a retry, a duplicate or a conflict). Raises Unauthorized /
    Forbidden like `api_key_authorize`.
    """
    args = {
        "tenant": tenant_id,
        "conversation": conversation_id,
        "turn": turn_id,
        "channel": channel_id,
        "subset": subset,
        "user": user_id,
        "hash": request_hash,
        "messages": Jsonb(messages),
        "request": Jsonb(request),
        "limit": history_turns,
    }

    async def claim(conn: psycopg.AsyncConnection) -> ClaimRow | None:
        if require_key:
            await api_key_check(conn, tenant_id=tenant_id, authorization=authorization)
        row = await (await conn.execute(_CLAIM, args)).fetchone()
        if row is None:
            return None
        tenant_pk, registry_version, known, conversation_pk, current_agent, turn_pk, history = row
        if not known or turn_pk is None:
            return None
        return ClaimRow(
            tenant_pk=tenant_pk,
            registry_version=registry_version,
            conversation_pk=conversation_pk,
            turn_pk=turn_pk,
            current_agent=current_agent,
            history=[{"query": query or "", "agent": agent} for query, agent in history],
        )

    return await pg.run(claim)


async def turn_finish(
    *,
    tenant_pk: int,
    turn_pk: int,
    conversation_pk: int,
    conversation_id: str,
    settled: dict[str, Any],
    decision: dict[str, Any] | None,
    current_agent: str,
) -> None:
    """Settle the turn (`settled`: its columns, as the ORM block writes them), store its
    routing decision and the conversation's current agent, in one statement."""
    answer, agent_messages = settled.get("answer"), settled.get("agent_messages")
    decision = decision or {}
    args = {
        "tenant_pk": tenant_pk,
        "turn_pk": turn_pk,
        "conversation_pk": conversation_pk,
        "conversation": conversation_id,
        "status": settled["status"],
        "latency_ms": settled["latency_ms"],
        "strategy": settled["routing_strategy"],
        "agent": settled["agent_name"],
        "answer": Jsonb(answer) if answer is not None else None,
        "agent_messages": Jsonb(agent_messages) if agent_messages is not None else None,
        "error_code": settled["error_code"],
        "error_message": settled["error_message"],
        "current_agent": current_agent,
        "has_decision": bool(decision),
        "channel": decision.get("channel", ""),
        "subset": decision.get("subset", ""),
        "chosen": decision.get("chosen", ""),
        "candidates": Jsonb(decision.get("candidates", [])),
        "reason": decision.get("reason", ""),
        "fallback": decision.get("fallback", False),
        "decision_ms": decision.get("latency_ms", 0.0),
        "confidence": decision.get("confidence"),
        "relevance": decision.get("relevance"),
        "registry_version": decision.get("registry_version"),
    }

    async def finish(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(_FINISH, args)

    await pg.run(finish)
