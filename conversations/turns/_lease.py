"""Who owns a pending turn: this process's instance id and the lease it keeps renewing.

Each web process has an instance id (host, pid and a random part) and one row in
`conversations_instance` whose `lease_until` a daemon thread pushes forward every
TURN_LEASE_RENEW_SECONDS: one statement per process per interval, however many turns are
in flight. A turn records its owner's id; when the owner dies, its lease lapses within
TURN_LEASE_SECONDS and the turn's retry takes it over.

The first lease is written before this process claims its first turn, so no other
process ever sees a turn of a live owner without a lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from conversations.models import Instance
from core import pg
from core.db import db

log = logging.getLogger("conversations.turn")

_lock = threading.Lock()
_id: tuple[int, str] | None = None  # (pid, instance id)
_beating: int | None = None  # the pid whose heartbeat thread runs
_stop = threading.Event()


def instance_id() -> str:
    """This process's id as an owner of turns (a new one after a fork)."""
    global _id
    pid = os.getpid()
    if _id is None or _id[0] != pid:
        _id = (pid, f"{socket.gethostname()[:40]}-{pid}-{secrets.token_hex(4)}")
    return _id[1]


def renew() -> None:
    """Push this process's lease forward (one statement; inserts the row when missing)."""
    seconds = settings.TURN_LEASE_SECONDS
    if pg.available():
        # The database's clock, which the PostgreSQL backend compares leases with.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO conversations_instance (instance_id, lease_until, started_at) "
                "VALUES (%s, now() + make_interval(secs => %s), now()) "
                "ON CONFLICT (instance_id) DO UPDATE SET lease_until = EXCLUDED.lease_until",
                [instance_id(), seconds],
            )
        return
    now = timezone.now()
    Instance.objects.bulk_create(
        [Instance(instance_id=instance_id(), lease_until=now + timedelta(seconds=seconds), started_at=now)],
        update_conflicts=True,
        unique_fields=["instance_id"],
        update_fields=["lease_until"],
    )


def _heartbeat() -> None:
    while not _stop.wait(settings.TURN_LEASE_RENEW_SECONDS):
        try:
            renew()
        except Exception as exc:  # the database may be down for a while: keep trying
            log.warning("turn lease not renewed: %s", exc)
        finally:
            connection.close()


def _start_heartbeat() -> bool:
    global _beating
    with _lock:
        if _beating == os.getpid():
            return False
        _beating = os.getpid()
        _stop.clear()
    threading.Thread(target=_heartbeat, name="turn-lease", daemon=True).start()
    return True


def stop_heartbeat() -> None:
    """Stop renewing (the test session, before its database is dropped): this process's
    turns may then be taken over once the lease lapses."""
    global _beating
    with _lock:
        _beating = None
        _stop.set()


def _first_lease() -> None:
    renew()
    # The leases of processes that died long ago (one row per process start).
    Instance.objects.filter(lease_until__lt=timezone.now() - timedelta(days=1)).delete()


async def ensure_lease() -> str:
    """This process's instance id, with its lease written and its heartbeat running."""
    if _beating != os.getpid():
        await db(_first_lease)()
        _start_heartbeat()
    return instance_id()
