from __future__ import annotations

import pytest
from django.conf import settings

# Tests sync the registry themselves; no timer thread may write to the test database.
settings.EMBEDDED_SYNC = False
settings.ROUTER_PRELOAD = False


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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env() -> dict[str, str]:
    """Environment for a subprocess (daphne) that must use the test database."""
    import os

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lmos_runtime.settings",
        "SECRET_KEY": "test-" + "x" * 40,
        "EMBEDDED_SYNC": "false",
        "ROUTER_PRELOAD": "false",
    }
    if db["ENGINE"].endswith("postgresql"):
        env["DATABASE_URL"] = (
            f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
            f"/{db['NAME']}"
        )
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(db["NAME"])
    return env


@pytest.fixture
def live_server_env(django_db_setup):
    return subprocess_env()


@pytest.fixture
def live_daphne(live_server_env):
    """A real daphne serving the runtime on a free loopback port."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "lmos_runtime.asgi:application"],
        cwd=Path(__file__).resolve().parent.parent,
        env=live_server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/apis/v1/ping", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("daphne did not start: " + process.stderr.read().decode()[-2000:]) from None
            time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(autouse=True)
def _fresh_circuit_breaker():
    from agents.client import breaker

    breaker.failures.clear()
    breaker.open_until.clear()
    breaker.probing.clear()
    yield
