"""The web process's ASGI wiring."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from lmos_runtime import asgi
from tests.conftest import subprocess_env


def test_request_started_has_no_sync_receivers_left_in_the_web_process():
    # A sync receiver makes Django run the signal in a worker thread on every request.
    # Checked in a fresh process: Django's test client reconnects its own receivers.
    probe = (
        "import lmos_runtime.asgi as a; from django.core import signals; "
        "sync, async_ = signals.request_started._live_receivers(sender=None); "
        "print(len(sync), a._request_started in async_)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=subprocess_env(), capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split()[-2:] == ["0", "True"], out.stdout + out.stderr


def test_blas_threads_are_limited_before_the_preload_thread_starts():
    # threadpoolctl's library walk deadlocks against a thread loading an extension module
    # (routing/vector/_embeddings.py, limit_blas_threads): it must run before the preload thread
    # exists, not in it while the main thread goes on importing.
    probe = (
        "import threading\n"
        "seen = []\n"
        "start = threading.Thread.start\n"
        "def spy(self):\n"
        "    if self.name != 'router-preload':\n"
        "        return start(self)\n"
        "    from routing.vector import _embeddings as embeddings\n"
        "    seen.append(embeddings._blas_limited.is_set())  # and no model loaded here\n"
        "threading.Thread.start = spy\n"
        "import lmos_runtime.asgi\n"
        "print(seen)\n"
    )
    env = {**subprocess_env(), "ROUTER_PRELOAD": "true", "ROUTER_TYPE": "vector"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[True]", out.stdout + out.stderr


async def test_request_started_skips_the_thread_when_nothing_is_open(monkeypatch, settings):
    calls = []
    monkeypatch.setattr(asgi, "_request_started_sync", lambda: calls.append(1))
    settings.DEBUG = False
    await asgi._request_started(sender=None)
    assert calls == []
    # DEBUG keeps the query log, which Django's receiver resets per request.
    settings.DEBUG = True
    await asgi._request_started(sender=None)
    assert calls == [1]


def test_fast_paths_are_the_chat_endpoints_only():
    from conversations.middleware import is_fast_path

    assert is_fast_path("/lmos/runtime/apis/v1/acme/chat/c1/message")
    assert is_fast_path("/apis/v1/acme/chat/c1/stream")
    assert not is_fast_path("/apis/v1/acme/conversations/c1")  # history: admin-session check
    assert not is_fast_path("/health/readiness")
    assert not is_fast_path("/admin/")


@pytest.mark.django_db(transaction=True)
async def test_chat_responses_are_closed_on_one_long_lived_thread(arc_agent):
    import httpx
    from django.core import signals

    from tests.test_chat_api import body, registry, url

    agent = await arc_agent()
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    closed_on: list[str] = []

    def record(**kwargs) -> None:
        closed_on.append(threading.current_thread().name)

    signals.request_finished.connect(record)
    try:
        transport = httpx.ASGITransport(app=asgi.application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            for turn in ("t1", "t2", "t3"):
                response = await client.post(url(), json=body(), headers={"x-turn-id": turn})
                assert response.status_code == 200, response.text
            assert (await client.get("/health/liveness")).status_code == 200
    finally:
        signals.request_finished.disconnect(record)
    # Django would start a new thread per request; the chat endpoints share one.
    assert len(closed_on) == 4
    assert len(set(closed_on[:3])) == 1 and closed_on[0].startswith("api-close")
    assert not closed_on[3].startswith("api-close")
