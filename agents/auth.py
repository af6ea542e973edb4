"""Tenant API keys: `Authorization: Bearer <key>`.

One rule, two backends side by side: the ORM (`api_key_authorize`, synchronous) and plain
SQL on an async PostgreSQL connection (`api_key_check_on`, which the turn store runs on
the connection of its claim, saving a round trip). `api_key_check` picks the backend
for async callers. tests/test_auth_parity.py holds the two equal.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from django.utils import timezone

from agents.models import ApiKey
from core import pg
from core.db import db
from core.errors import Forbidden, Unauthorized

# (key pk, owning tenant id, last used) of an active key
KeyRow = tuple[int, str, datetime | None]


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_key_authorize(*, tenant_id: str, authorization: str | None) -> int:
    """The pk of the key in `authorization` if it belongs to `tenant_id` (ORM backend).

    Raises Unauthorized (no key, unknown or revoked key) or Forbidden (a valid key of
    another tenant).
    """
    key_hash = _required_hash(authorization)
    key = ApiKey.objects.select_related("tenant").filter(key_hash=key_hash, revoked=False).first()
    row = (key.pk, key.tenant.tenant_id, key.last_used_at) if key else None
    now = timezone.now()
    if _authorized(row, tenant_id, now):
        ApiKey.objects.filter(pk=row[0]).update(last_used_at=now)
    return row[0]


async def api_key_check_on(conn: psycopg.AsyncConnection, *, tenant_id: str, authorization: str | None) -> int:
    """`api_key_authorize` as SQL on an async PostgreSQL connection (PostgreSQL backend)."""
    key_hash = _required_hash(authorization)
    row = await (
        await conn.execute(
            "SELECT k.id, t.tenant_id, k.last_used_at FROM agents_apikey k "
            "JOIN agents_tenant t ON t.id = k.tenant_id WHERE k.key_hash = %s AND NOT k.revoked",
            (key_hash,),
        )
    ).fetchone()
    now = timezone.now()
    if _authorized(row, tenant_id, now):
        await conn.execute("UPDATE agents_apikey SET last_used_at = %s WHERE id = %s", (now, row[0]))
    return row[0]


async def api_key_check(*, tenant_id: str, authorization: str | None) -> int:
    """`api_key_authorize` for async code: SQL on the event loop on PostgreSQL, else the
    ORM in a worker thread."""
    if pg.available():
        return await pg.run(lambda conn: api_key_check_on(conn, tenant_id=tenant_id, authorization=authorization))
    return await db(api_key_authorize)(tenant_id=tenant_id, authorization=authorization)


def _required_hash(authorization: str | None) -> str:
    raw = bearer_token(authorization)
    if raw is None:
        raise Unauthorized("An API key is required: send 'Authorization: Bearer <key>'")
    return ApiKey.hash_key(raw)


def _authorized(row: KeyRow | None, tenant_id: str, now: datetime) -> bool:
    """Raise unless `row` is a key of `tenant_id`; whether its last use must be written."""
    if row is None:
        raise Unauthorized("Unknown or revoked API key")
    if row[1] != tenant_id:
        raise Forbidden(f"This API key does not grant access to tenant {tenant_id!r}")
    last_used_at = row[2]
    # At most one write a minute per key, not one per request.
    return last_used_at is None or (now - last_used_at).total_seconds() > 60
