"""Database access from async code without holding connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")


def db(fn: Callable[..., T]) -> Callable[..., Any]:
    """`fn` as an awaitable run in a worker thread, releasing its connection afterwards.

    Async code awaits agents and LLMs for seconds; a connection kept open meanwhile would
    exhaust PostgreSQL's 100 connections at a hundred turns in flight.
    """

    def wrapper(*args: Any, **kwargs: Any) -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(wrapper, thread_sensitive=False)
