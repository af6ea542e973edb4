"""The turn path issues a small, bounded number of SQL statements (issue 8)."""

from __future__ import annotations

import threading

import pytest
from django.db.backends import utils

from tests.test_chat_api import body, post, registry, url

pytestmark = pytest.mark.django_db(transaction=True)


class StatementCounter:
    """Counts every statement any thread sends through Django's cursor wrapper."""

    def __init__(self, monkeypatch) -> None:
        self.statements: list[str] = []
        self.lock = threading.Lock()
        original = utils.CursorWrapper._execute_with_wrappers

        def counting(wrapper, sql, params, many, executor):
            # SQLite's IMMEDIATE transactions start with an explicit BEGIN: not a query.
            if not sql.startswith("BEGIN"):
                with self.lock:
                    self.statements.append(sql)
            return original(wrapper, sql, params, many, executor)

        monkeypatch.setattr(utils.CursorWrapper, "_execute_with_wrappers", counting)


async def test_a_turn_issues_at_most_eight_sql_statements(arc_agent, monkeypatch):
    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    explicit = {"inputContext": {"explicitAgent": "billing-agent"}}
    # Warm: tenant, subset and conversation known, registry cached.
    assert (await post(url(), body(**explicit), turn="warm")).status_code == 200
    counter = StatementCounter(monkeypatch)
    assert (await post(url(), body(**explicit), turn="t1")).status_code == 200
    assert len(counter.statements) <= 8, counter.statements
    # A replay reads the stored answer: fewer still.
    counter.statements.clear()
    assert (await post(url(), body(**explicit), turn="t1")).status_code == 200
    assert len(counter.statements) <= 5, counter.statements
