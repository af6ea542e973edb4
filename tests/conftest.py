from __future__ import annotations

import pytest
from django.conf import settings


def pytest_report_header(config) -> list[str]:
    db = settings.DATABASES["default"]
    where = f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or ''}:{db.get('PORT') or ''}/{db['NAME']}"
    cache = "redis " + settings.REDIS_URL if settings.REDIS_URL else "in-memory (no REDIS_URL)"
    return [f"lmos-runtime tests: database {where}; cache/channel layer {cache}"]


@pytest.fixture(autouse=True)
def _fresh_registry_cache():
    from agents.selectors import channel_registry_invalidate

    channel_registry_invalidate()
    yield
    channel_registry_invalidate()
