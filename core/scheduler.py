"""The embedded timer: without Redis there is no Celery beat, so the web process runs
settings.SCHEDULE itself, in one daemon thread.

Jobs are Celery tasks named by their dotted path; called as plain functions here, they run
in this process (the registry sync then syncs every tenant itself instead of fanning out
to workers). One job failing does not stop the others or the timer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils.module_loading import import_string

log = logging.getLogger("core.scheduler")

FIRST_DELAY = 1.0  # seconds after start-up before the jobs marked `at_start` run

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


def start_embedded_scheduler() -> None:
    """Start running settings.SCHEDULE in this process.

    Does nothing when REDIS_URL is set (Celery beat and workers run it then) or when the
    timer already runs in this process; safe to call more than once.
    """
    global _thread
    if settings.REDIS_URL:
        return
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _stop.clear()
        _thread = threading.Thread(target=_run, args=(list(settings.SCHEDULE),), name="scheduler", daemon=True)
        _thread.start()
    log.info("embedded scheduler (no REDIS_URL): %s", ", ".join(job["name"] for job in settings.SCHEDULE))


def stop_embedded_scheduler(timeout: float | None = None) -> None:
    """Stop the timer (tests, shutdown); waits for a job under way up to `timeout` seconds."""
    global _thread
    with _lock:
        thread, _thread = _thread, None
        _stop.set()
    if thread is not None:
        thread.join(timeout)


def interval(job: dict[str, Any]) -> float:
    """A job's interval in seconds, read now (`every` may name a setting)."""
    every = job["every"]
    return float(getattr(settings, every) if isinstance(every, str) else every)


def run_job(job: dict[str, Any]) -> None:
    """Run one schedule entry now, in this thread; failures are logged, never raised."""
    try:
        task: Callable[[], Any] = import_string(job["task"])
        task()
    except DatabaseError as exc:
        # Not migrated yet, or the database is down: the next round tries again.
        log.warning("scheduled job %s skipped: %s", job["name"], exc)
    except Exception:
        log.exception("scheduled job %s crashed; it runs again in %g s", job["name"], interval(job))


def _run(jobs: list[dict[str, Any]]) -> None:
    start = time.monotonic()
    due = {job["name"]: start + (FIRST_DELAY if job["at_start"] else interval(job)) for job in jobs}
    while True:
        wait = max(min(due.values(), default=start + 3600) - time.monotonic(), 0.0)
        if _stop.wait(wait):
            return
        for job in jobs:
            if _stop.is_set():
                return
            if due[job["name"]] <= time.monotonic():
                try:
                    run_job(job)
                finally:
                    # This thread's connections are not closed by any request cycle.
                    connections.close_all()
                due[job["name"]] = time.monotonic() + interval(job)
