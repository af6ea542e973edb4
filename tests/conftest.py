from __future__ import annotations

import pytest
from django.conf import settings

# Tests sync the registry themselves; no timer thread may write to the test database.
settings.EMBEDDED_SYNC = False
settings.ROUTER_PRELOAD = False
# Whether `make glossary` ran on this machine must not change what the tests see; the
# glossary's tests build their own.
settings.ROUTER_GLOSSARY = ""


def pytest_report_header(config) -> list[str]:
    db = settings.DATABASES["default"]
    where = f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or ''}:{db.get('PORT') or ''}/{db['NAME']}"
    cache = "redis " + settings.REDIS_URL if settings.REDIS_URL else "in-memory (no REDIS_URL)"
    return [f"lmos-runtime tests: database {where}; cache/channel layer {cache}"]


@pytest.fixture(autouse=True)
def _fresh_registry_cache():
    from agents.selectors import channel_registry_invalidate
    from agents.services import registry_on_demand_forget

    channel_registry_invalidate()
    registry_on_demand_forget()
    yield
    channel_registry_invalidate()
    registry_on_demand_forget()


@pytest.fixture
async def arc_agent():
    """Start real Arc agents on 127.0.0.1 (random ports); stopped after the test."""
    from agents.client import close_pool
    from tests.support.agents import echo
    from tests.support.arc_server import ArcServer

    servers = []

    async def start(behaviour=None, **kwargs):
        server = await ArcServer(behaviour or echo(), **kwargs).start()
        servers.append(server)
        return server

    yield start
    await close_pool()
    for server in servers:
        await server.stop()


@pytest.fixture(scope="session", autouse=True)
def _stop_turn_lease_heartbeat(django_db_setup):
    """The turn store's lease heartbeat (a thread) must stop before the test database is
    dropped."""
    yield
    from conversations.turns import stop_heartbeat

    stop_heartbeat()


@pytest.fixture(autouse=True)
def _close_async_orm_connection():
    """Async tests' ORM calls run in asgiref's shared thread, and the turn path's SQL in a
    pool per event loop; close their connections after each test so the test database can
    be dropped at the end."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    from core import pg

    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
    pg.close_all()


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


def start_daphne(env: dict[str, str], module: str = "daphne"):
    """Start daphne (or `module`, taking daphne's arguments) serving the runtime on a free
    loopback port; returns (process, base URL).

    Its output goes to a temporary file (a pipe nobody reads would fill and stall it)."""
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    import httpx

    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "-b", "127.0.0.1", "-p", str(port), "lmos_runtime.asgi:application"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/health/liveness", timeout=1)
            return process, base
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.seek(0)
                raise RuntimeError("daphne did not start: " + log.read().decode()[-2000:]) from None
            time.sleep(0.2)


def stop_processes(*processes) -> None:
    import subprocess

    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def live_daphne(live_server_env):
    """A real daphne serving the runtime (on the test database) on a free loopback port."""
    process, base = start_daphne(live_server_env)
    yield base
    stop_processes(process)


@pytest.fixture(autouse=True)
def _fresh_circuit_breaker():
    from agents.client import breaker

    breaker.failures.clear()
    breaker.open_until.clear()
    breaker.probing.clear()
    yield


def settings_env_vars() -> set[str]:
    """Every environment variable lmos_runtime/settings.py reads (the first argument of its
    env_* calls; aliases such as LLM_MODEL_NAME are alternative spellings, not settings)."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parent.parent / "lmos_runtime" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
