"""The turn path's own PostgreSQL pool (core/pg.py): reuse, recovery from dead
connections, and bounded waits instead of hangs."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from core import pg
from core.errors import Overloaded

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not pg.available(), reason="the event-loop pool is for PostgreSQL only"),
]


async def _backend_pid(conn: psycopg.AsyncConnection) -> int:
    return (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]


async def test_connections_are_reused_between_blocks():
    first = await pg.run(_backend_pid)
    second = await pg.run(_backend_pid)
    assert first == second


async def test_a_connection_killed_while_idle_is_replaced_and_the_block_runs_once_more():
    victim = await pg.run(_backend_pid)
    async with await psycopg.AsyncConnection.connect(autocommit=True, **pg._connect_kwargs()) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (victim,))
    calls = []

    async def block(conn: psycopg.AsyncConnection) -> int:
        calls.append(1)
        return await _backend_pid(conn)

    survivor = await pg.run(block)
    assert survivor != victim
    assert len(calls) == 2  # the first attempt hit the dead connection


async def test_waiting_for_a_busy_pool_ends_in_overloaded_not_a_hang(settings, monkeypatch):
    settings.DATABASE_POOL_SIZE = 1
    monkeypatch.setattr(pg, "SLOT_TIMEOUT", 0.2)
    pg.close_all()
    pg._pools.clear()
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold(conn: psycopg.AsyncConnection) -> None:
        holding.set()
        await release.wait()

    holder = asyncio.create_task(pg.run(hold))
    await holding.wait()
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await pg.run(_backend_pid)
    assert time.monotonic() - started < 2
    release.set()
    await holder
    assert await pg.run(_backend_pid)  # usable again once the slot is free


async def test_a_statement_that_runs_too_long_is_cancelled(monkeypatch):
    monkeypatch.setattr(pg, "STATEMENT_TIMEOUT_MS", 200)
    pg.close_all()
    pg._pools.clear()

    async def slow(conn: psycopg.AsyncConnection) -> None:
        await conn.execute("SELECT pg_sleep(5)")

    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled):
        await pg.run(slow)
    assert time.monotonic() - started < 3


async def test_the_pool_talks_to_the_same_database_as_the_orm():
    from asgiref.sync import sync_to_async
    from django.db import connection

    async def name(conn: psycopg.AsyncConnection) -> str:
        return (await (await conn.execute("SELECT current_database()")).fetchone())[0]

    assert await pg.run(name) == await sync_to_async(lambda: connection.settings_dict["NAME"])()
