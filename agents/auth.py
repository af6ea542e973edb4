"""Tenant API keys: `Authorization: Bearer <key>`."""

from __future__ import annotations

from datetime import datetime

import psycopg
from django.utils import timezone

from agents.models import ApiKey
from core.errors import Forbidden, Unauthorized


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_key_authorize(*, tenant_id: str, authorization: str | None) -> ApiKey:
    """The key in `authorization` if it belongs to `tenant_id`.

    Raises Unauthorized (no key, unknown or revoked key) or Forbidden (a valid key of
    another tenant).
    """
    key = ApiKey.objects.select_related("tenant").filter(key_hash=_required_hash(authorization), revoked=False).first()
    _check_owner(key.tenant.tenant_id if key else None, tenant_id)
    now = timezone.now()
    if _stale_use(key.last_used_at, now):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def _required_hash(authorization: str | None) -> str:
    raw = bearer_token(authorization)
    if raw is None:
        raise Unauthorized("An API key is required: send 'Authorization: Bearer <key>'")
    return ApiKey.hash_key(raw)


def _check_owner(owner: str | None, tenant_id: str) -> None:
    if owner is None:
        raise Unauthorized("Unknown or revoked API key")
    if owner != tenant_id:
        raise Forbidden(f"This API key does not grant access to tenant {tenant_id!r}")


def _stale_use(last_used_at: datetime | None, now: datetime) -> bool:
    # At most one write a minute per key, not one per request.
    return last_used_at is None or (now - last_used_at).total_seconds() > 60


async def api_key_check(conn: psycopg.AsyncConnection, *, tenant_id: str, authorization: str | None) -> None:
    """`api_key_authorize` as SQL on an async PostgreSQL connection (the turn path)."""
    key_hash = _required_hash(authorization)
    row = await (
        await conn.execute(
            "SELECT k.id, t.tenant_id, k.last_used_at FROM agents_apikey k "
            "JOIN agents_tenant t ON t.id = k.tenant_id WHERE k.key_hash = %s AND NOT k.revoked",
            (key_hash,),
        )
    ).fetchone()
    _check_owner(row[1] if row else None, tenant_id)
    now = timezone.now()
    if _stale_use(row[2], now):
        await conn.execute("UPDATE agents_apikey SET last_used_at = %s WHERE id = %s", (now, row[0]))
