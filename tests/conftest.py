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


@pytest.fixture
async def arc_agent():
    """Start real Arc agents on 127.0.0.1 (random ports); stopped after the test."""
    from agents.arc_server import ArcServer
    from agents.client import close_pool
    from tests.agents import echo

    servers = []

    async def start(behaviour=None, **kwargs):
        server = await ArcServer(behaviour or echo(), **kwargs).start()
        servers.append(server)
        return server

    yield start
    await close_pool()
    for server in servers:
        await server.stop()


@pytest.fixture(autouse=True)
def _close_async_orm_connection():
    """Async tests' ORM calls run in asgiref's shared thread; close its connection after
    each test so the test database can be dropped at the end."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
