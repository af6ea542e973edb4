"""The web process's ASGI wiring."""

from __future__ import annotations

import subprocess
import sys

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
