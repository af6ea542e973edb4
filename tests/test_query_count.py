"""The turn path issues a small, bounded number of SQL statements."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db.backends import utils

from core import pg
from tests.test_chat_api import body, post, registry, url

pytestmark = pytest.mark.django_db(transaction=True)


class StatementCounter:
    """Counts every statement any thread sends through Django's cursor wrapper (`orm`), and
    every one the turn path sends on its own async PostgreSQL connections (`direct`)."""

    def __init__(self, monkeypatch) -> None:
        self.statements: list[str] = []
        self.direct: list[str] = []
        self.lock = threading.Lock()
        original = utils.CursorWrapper._execute_with_wrappers
        original_async = psycopg.AsyncConnection.execute

        async def counting_async(conn, query, *args, **kwargs):
            self.direct.append(str(query))
            return await original_async(conn, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncConnection, "execute", counting_async)

        def counting(wrapper, sql, params, many, executor):
            # SQLite's IMMEDIATE transactions start with an explicit BEGIN: not a query.
            if not sql.startswith("BEGIN"):
                with self.lock:
                    self.statements.append(sql)
            return original(wrapper, sql, params, many, executor)

        monkeypatch.setattr(utils.CursorWrapper, "_execute_with_wrappers", counting)


async def test_a_turn_issues_few_sql_statements(arc_agent, monkeypatch):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    explicit = {"inputContext": {"explicitAgent": "billing-agent"}}
    # Warm: tenant, subset and conversation known, registry cached.
    assert (await post(url(), body(**explicit), turn="warm")).status_code == 200
    counter = StatementCounter(monkeypatch)
    assert (await post(url(), body(**explicit), turn="t1")).status_code == 200
    if pg.available():
        # Plain SQL on the event loop, no ORM: one statement claims (conversation, pending
        # turn, history), one finishes (turn, routing decision, current agent).
        assert counter.statements == []
        assert len(counter.direct) == 2, counter.direct
    else:
        assert len(counter.statements) <= 8, counter.statements
    # A replay reads the stored answer: few statements.
    counter.statements.clear()
    counter.direct.clear()
    assert (await post(url(), body(**explicit), turn="t1")).status_code == 200
    assert len(counter.statements) + len(counter.direct) <= 6, (counter.statements, counter.direct)
