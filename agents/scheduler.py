"""The embedded registry sync: without Redis there is no Celery beat, so the web process
syncs the registry itself on a timer, in a daemon thread (and, when ROUTER_LEARN_FROM_TRAFFIC
is on, learns routing examples every ROUTER_LEARN_INTERVAL on the same timer)."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections

from agents.services import registry_sync_all

log = logging.getLogger("agents.sync")

FIRST_DELAY = 1.0  # seconds after start-up before the first sync

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


def start_embedded_sync() -> None:
    """Start syncing the registry every AGENT_SYNC_INTERVAL seconds in this process.

    Does nothing when REDIS_URL is set (Celery beat and workers sync then) or when the
    timer already runs in this process; safe to call more than once.
    """
    global _thread
    if settings.REDIS_URL:
        return
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _stop.clear()
        _thread = threading.Thread(target=_run, name="registry-sync", daemon=True)
        _thread.start()
    log.info("embedded registry sync every %g s (no REDIS_URL)", settings.AGENT_SYNC_INTERVAL)


def stop_embedded_sync(timeout: float | None = None) -> None:
    """Stop the timer (tests, shutdown); waits for a sync under way up to `timeout` seconds."""
    global _thread
    with _lock:
        thread, _thread = _thread, None
        _stop.set()
    if thread is not None:
        thread.join(timeout)


def learn_if_due(last: float | None, now: float) -> float | None:
    """Learn routing examples when learning is on and ROUTER_LEARN_INTERVAL has passed since
    `last` (None: never); returns the time of the last learning run."""
    if not settings.ROUTER_LEARN_FROM_TRAFFIC:
        return last
    if last is not None and now - last < settings.ROUTER_LEARN_INTERVAL:
        return last
    from routing.learning import learn_all

    learned = learn_all()
    log.info("embedded routing learning: %d examples over %d channels", sum(learned.values()), len(learned))
    return now


def _run() -> None:
    delay = FIRST_DELAY
    learned_at: float | None = time.monotonic()  # the first run waits one interval
    while not _stop.wait(delay):
        delay = settings.AGENT_SYNC_INTERVAL
        try:
            registry_sync_all()
            learned_at = learn_if_due(learned_at, time.monotonic())
        except DatabaseError as exc:
            # Not migrated yet, or the database is down: try again next round.
            log.warning("embedded registry sync skipped: %s", exc)
        except Exception:
            log.exception("embedded registry sync crashed; it runs again in %g s", delay)
        finally:
            connections.close_all()
