"""PostgreSQL from the event loop: a small pool of psycopg async connections.

The turn path's two database blocks (claim and finish) run here, on the event loop, as a
few plain SQL statements: no worker thread, no ORM compilation, no connection held while
an agent is awaited. Everything else uses the Django ORM.

The pool is deliberately small and hand-rolled rather than psycopg_pool's: it belongs to
one event loop (daphne has one; tests make one per test), keeps no background tasks that
would outlive that loop, and hands out connections in autocommit mode, so a statement
costs one round trip and a transaction exactly BEGIN + statements + COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import connections
from psycopg.pq import TransactionStatus

from core.errors import Overloaded

T = TypeVar("T")

SLOT_TIMEOUT = 10.0  # seconds a block waits for a free connection before 503 OVERLOADED
STATEMENT_TIMEOUT_MS = 10_000

# Options that Django reads itself and psycopg.connect() would reject.
_DJANGO_OPTIONS = {"pool", "isolation_level", "assume_role", "server_side_binding", "cursor_factory"}


def available() -> bool:
    """Whether the default database is PostgreSQL (else the ORM does everything)."""
    # The configuration, not connections["default"]: in async code that would build a new
    # database wrapper per request.
    return connections.settings["default"]["ENGINE"] == "django.db.backends.postgresql"


def _connect_kwargs(conf: dict[str, Any] | None = None) -> dict[str, Any]:
    # Read at call time: tests switch NAME to the test database after settings load.
    conf = connections.settings["default"] if conf is None else conf
    kwargs: dict[str, Any] = {
        k: v
        for k, v in {
            "dbname": conf.get("NAME"),
            "user": conf.get("USER"),
            "password": conf.get("PASSWORD"),
            "host": conf.get("HOST"),
            "port": conf.get("PORT"),
        }.items()
        if v
    }
    kwargs.update({k: v for k, v in (conf.get("OPTIONS") or {}).items() if k not in _DJANGO_OPTIONS})
    kwargs.setdefault("connect_timeout", 10)
    # The turn path's statements are tiny: one that runs for seconds means trouble, and a
    # turn must fail with an error rather than hang on it.
    kwargs.setdefault("options", f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
    return kwargs


class Pool:
    """At most `size` connections of one event loop; idle ones are reused."""

    def __init__(self, size: int, conf: dict[str, Any]) -> None:
        # The configuration it was made from: compared per call, which is cheaper than
        # building the connection arguments again.
        self.conf = copy.deepcopy(conf)
        self.kwargs = _connect_kwargs(conf)
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection] = []

    @contextlib.asynccontextmanager
    async def connection(self, *, fresh: bool = False) -> AsyncIterator[psycopg.AsyncConnection]:
        try:
            async with asyncio.timeout(SLOT_TIMEOUT):
                await self._slots.acquire()
        except TimeoutError:
            raise Overloaded("Every database connection of this process stayed busy; retry shortly") from None
        try:
            if fresh:
                self.discard_idle()
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = await psycopg.AsyncConnection.connect(autocommit=True, **self.kwargs)
            reusable = False
            try:
                yield conn
                reusable = not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE
            finally:
                if reusable:
                    self._idle.append(conn)
                else:
                    _close_now(conn)
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        while self._idle:
            _close_now(self._idle.pop())


def _close_now(conn: psycopg.AsyncConnection) -> None:
    # Synchronous on purpose: also works when the owning loop is closing or gone.
    with contextlib.suppress(Exception):
        conn.pgconn.finish()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pool] = weakref.WeakKeyDictionary()


def pool() -> Pool:
    loop = asyncio.get_running_loop()
    conf = connections.settings["default"]
    current = _pools.get(loop)
    if current is None or current.conf != conf:
        if current is not None:
            current.discard_idle()
        current = _pools[loop] = Pool(settings.DATABASE_POOL_SIZE, conf)
    return current


async def run(fn: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    """`await fn(conn)` on a pooled connection.

    A connection that died while idle (PostgreSQL restarted) fails on its first statement;
    then the idle connections are dropped and `fn` runs once more on a new one. `fn` must
    be safe to repeat after a failure before its commit: every block here is either one
    transaction or statements that tolerate a repeat (ON CONFLICT DO NOTHING).
    """
    conn: psycopg.AsyncConnection | None = None
    try:
        async with pool().connection() as conn:
            return await fn(conn)
    except psycopg.OperationalError:
        if conn is None or not conn.broken:
            raise
    async with pool().connection(fresh=True) as conn:
        return await fn(conn)


def close_all() -> None:
    """Close every idle pooled connection, of every loop (tests, after each test)."""
    for current in list(_pools.values()):
        current.discard_idle()
