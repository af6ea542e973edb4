"""The API-key check's two backends (the ORM and SQL on the turn path's PostgreSQL
connection) give the same answer and write the same last-use time for every case.

Skipped on the embedded SQLite default: the SQL backend needs PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from agents.auth import api_key_authorize, api_key_check, api_key_check_on
from agents.models import ApiKey, Tenant
from core import errors, pg
from core.db import db

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not pg.available(),
        reason="API-key parity needs PostgreSQL (DATABASE_URL=postgres://...): the SQL backend cannot run on SQLite",
    ),
]


async def _orm(tenant_id: str, authorization: str | None) -> int:
    return await db(api_key_authorize)(tenant_id=tenant_id, authorization=authorization)


async def _pg(tenant_id: str, authorization: str | None) -> int:
    return await pg.run(lambda conn: api_key_check_on(conn, tenant_id=tenant_id, authorization=authorization))


def _keys() -> dict[str, tuple[ApiKey, str]]:
    """Fresh keys for every case: acme's (never used, used 10 s ago, used 2 min ago,
    revoked) and one of another tenant."""
    acme, _ = Tenant.objects.get_or_create(tenant_id="acme")
    other, _ = Tenant.objects.get_or_create(tenant_id="other")
    ApiKey.objects.all().delete()
    now = timezone.now()
    made = {
        "fresh": ApiKey.generate(tenant=acme),
        "recent": ApiKey.generate(tenant=acme),
        "old": ApiKey.generate(tenant=acme),
        "revoked": ApiKey.generate(tenant=acme),
        "other": ApiKey.generate(tenant=other),
    }
    ApiKey.objects.filter(pk=made["recent"][0].pk).update(last_used_at=now - timedelta(seconds=10))
    ApiKey.objects.filter(pk=made["old"][0].pk).update(last_used_at=now - timedelta(minutes=2))
    ApiKey.objects.filter(pk=made["revoked"][0].pk).update(revoked=True)
    return made


def _last_used() -> dict[str, bool]:
    """Per key name: whether its last use is within the last 5 s (it was just written)."""
    recent = timezone.now() - timedelta(seconds=5)
    return {k.key_prefix: bool(k.last_used_at and k.last_used_at > recent) for k in ApiKey.objects.all()}


CASES = [
    ("no header", None),
    ("not bearer", "Basic dXNlcjpwYXNz"),
    ("empty bearer", "Bearer   "),
    ("unknown key", "Bearer lmos_nobody-has-this-key"),
    ("revoked", "revoked"),
    ("other tenant's key", "other"),
    ("never used", "fresh"),
    ("used 10 s ago", "recent"),
    ("used 2 min ago", "old"),
]


async def _outcome(check, authorization: str | None) -> tuple[str, str]:
    try:
        pk = await check("acme", authorization)
    except (errors.Unauthorized, errors.Forbidden) as exc:
        return type(exc).__name__, exc.message
    return "ok", str(pk)


@pytest.mark.parametrize("case, authorization", CASES, ids=[c[0] for c in CASES])
async def test_both_backends_decide_and_record_a_key_alike(case, authorization):
    results = {}
    for name, check in (("orm", _orm), ("pg", _pg)):
        keys = await sync_to_async(_keys)()
        if authorization in keys:
            key, raw = keys[authorization]
            header, expected_pk = f"Bearer {raw}", str(key.pk)
        else:
            header, expected_pk = authorization, None
        outcome = await _outcome(check, header)
        # Key pks differ between the two runs; which key was found is what matters.
        if outcome == ("ok", expected_pk):
            outcome = ("ok", authorization)
        prefixes = {key.key_prefix: name for name, (key, _) in keys.items()}
        written = {prefixes[p]: used for p, used in (await sync_to_async(_last_used)()).items()}
        results[name] = (outcome, written)
    assert results["orm"] == results["pg"]
    outcome, written = results["pg"]
    expected = {
        "revoked": "Unauthorized",
        "other": "Forbidden",
        "fresh": "ok",
        "recent": "ok",
        "old": "ok",
    }.get(authorization, "Unauthorized")
    assert outcome[0] == expected
    just_written = {k for k, used in written.items() if used}
    assert just_written == ({authorization} if authorization in ("fresh", "old") else set())


async def test_the_async_face_picks_the_postgresql_backend_and_checks_alike():
    keys = await sync_to_async(_keys)()
    key, raw = keys["fresh"]
    assert await api_key_check(tenant_id="acme", authorization=f"Bearer {raw}") == key.pk
    with pytest.raises(errors.Forbidden):
        await api_key_check(tenant_id="other", authorization=f"Bearer {raw}")
