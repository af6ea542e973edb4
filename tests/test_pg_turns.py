"""The turn path's SQL on PostgreSQL reads only the conversation's own rows, however many
the tenant has and whether or not the tables were ever analyzed (autovacuum may be off)."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from agents.models import RegistryTarget
from conversations.models import Conversation, Turn
from conversations.turns import _pg as pg_turns
from core import pg
from tests.factories import make_registry

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not pg.available(), reason="the SQL turn path is for PostgreSQL only"),
]


def _scans(plan: dict) -> list[dict]:
    found = [plan] if "Scan" in plan.get("Node Type", "") else []
    for child in plan.get("Plans", []):
        found.extend(_scans(child))
    return found


def _completed(tenant, conversation, turn_id: str, query: str, **fields) -> Turn:
    return Turn(
        tenant=tenant,
        conversation=conversation,
        turn_id=turn_id,
        request_hash="h",
        channel_id="web",
        status=Turn.Status.COMPLETED,
        messages=[{"role": "user", "content": query}],
        **fields,
    )


def test_the_claim_reads_only_the_conversations_rows_in_a_large_tenant():
    tenant, _ = make_registry(agents={"billing-agent": "b:1"})
    RegistryTarget.objects.create(tenant=tenant, subset="stable")
    conversations = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, conversation_id=f"other-{i}", channel_id="web") for i in range(400)
    )
    Turn.objects.bulk_create(_completed(tenant, c, "t", "hello") for c in conversations)
    mine = Conversation.objects.create(tenant=tenant, conversation_id="mine", channel_id="web")
    _completed(tenant, mine, "t0", "why is my bill so high", agent_name="billing-agent").save()
    with connection.cursor() as cursor:
        # As on a database autovacuum never analyzed: no statistics at all.
        cursor.execute(
            "DELETE FROM pg_statistic WHERE starelid IN "
            "('conversations_turn'::regclass, 'conversations_conversation'::regclass)"
        )
        args = {
            "tenant": tenant.tenant_id,
            "conversation": "mine",
            "turn": "t1",
            "channel": "web",
            "subset": "stable",
            "user": "",
            "hash": "h",
            "messages": json.dumps([{"role": "user", "content": "and the second one?"}]),
            "request": "{}",
            "limit": 10,
            "owner": "test",
        }
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + pg_turns.CLAIM, args)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    scans = _scans(plan[0]["Plan"])
    assert scans
    read = {f"{s['Node Type']} {s.get('Relation Name') or s.get('Index Name', '')}": s["Actual Rows"] for s in scans}
    # The conversation (1 row) and its one earlier turn: never the tenant's other 400.
    assert max(read.values()) <= 2, read
    assert Turn.objects.filter(conversation=mine, turn_id="t1").count() == 1
