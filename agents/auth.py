"""Tenant API keys: `Authorization: Bearer <key>`."""

from __future__ import annotations

from django.utils import timezone

from agents.models import ApiKey
from lmos_runtime.exceptions import Forbidden, Unauthorized


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
    raw = bearer_token(authorization)
    if raw is None:
        raise Unauthorized("An API key is required: send 'Authorization: Bearer <key>'")
    key = ApiKey.objects.select_related("tenant").filter(key_hash=ApiKey.hash_key(raw), revoked=False).first()
    if key is None:
        raise Unauthorized("Unknown or revoked API key")
    if key.tenant.tenant_id != tenant_id:
        raise Forbidden(f"This API key does not grant access to tenant {tenant_id!r}")
    now = timezone.now()
    # At most one write a minute per key, not one per request.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
