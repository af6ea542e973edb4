"""Health and metrics endpoints with the database up and with it unreachable, and with Redis
down. Outages are real: a closed port, or a socket that accepts and never answers; nothing
shared (5432, 6379) is ever stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from agents.models import SyncRun, Tenant
from core import metrics

ROOT = Path(__file__).resolve().parent.parent
PROBE_BUDGET_SECONDS = 4.5  # the web pod's readinessProbe timeoutSeconds is 5


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that completes the TCP handshake and then never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


# --- in process: database up ---------------------------------------------------------


def test_liveness_answers_ok(client):
    response = client.get("/health/liveness")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readiness_is_ok_with_the_database_up(client):
    response = client.get("/health/readiness")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if settings.REDIS_URL else "disabled")
    assert body["registry"]["status"] == "never_synced"
    assert client.get("/health").json()["database"] == "ok"


@pytest.mark.django_db
def test_readiness_reports_the_registry_and_its_last_sync(client):
    tenant = Tenant.objects.create(tenant_id="acme")
    SyncRun.objects.create(source="operator", tenant=tenant, subset="stable", status="ok", finished_at=timezone.now())
    registry = client.get("/health/readiness").json()["registry"]
    assert registry["status"] == "ok"
    assert registry["tenants"] == 1
    assert registry["failing_tenants"] == 0
    assert registry["last_sync"]["ok"] is True
    assert registry["last_sync"]["tenant"] == "acme"
    assert 0 <= registry["last_sync"]["age_seconds"] < 60


@pytest.mark.django_db
def test_a_failed_sync_makes_readiness_degraded_but_ready_and_hides_credentials(client):
    tenant = Tenant.objects.create(tenant_id="acme")
    SyncRun.objects.create(
        source="operator",
        tenant=tenant,
        status="failed",
        finished_at=timezone.now(),
        error="GET failed with Authorization: Bearer s3cr3t-token-value",
    )
    response = client.get("/health/readiness")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["registry"]["status"] == "failing"
    assert body["registry"]["failing_tenants"] == 1
    assert "s3cr3t" not in response.content.decode()


@pytest.mark.django_db
@override_settings(AGENT_SYNC_INTERVAL=30.0)
def test_a_registry_not_synced_for_long_is_stale(client):
    run = SyncRun.objects.create(source="operator", status="ok", finished_at=timezone.now())
    SyncRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    body = client.get("/health/readiness").json()
    assert (body["status"], body["registry"]["status"]) == ("degraded", "stale")


@pytest.mark.django_db
def test_redis_down_gives_200_degraded(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/health/readiness")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["redis"] == "down"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_a_silent_redis_does_not_hang_the_probe(client, silent_server):
    started = time.monotonic()
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{silent_server}/0"):
        response = client.get("/health/readiness")
    assert time.monotonic() - started < PROBE_BUDGET_SECONDS
    assert (response.status_code, response.json()["redis"]) == (200, "down")


@pytest.mark.django_db
def test_probes_middleware_answers_probes_whatever_the_host():
    """Kubernetes and Prometheus use the pod IP as Host, which ALLOWED_HOSTS rarely lists."""

    def pod() -> Client:  # a fresh client, since a client loads the middleware once
        return Client(HTTP_HOST="10.1.2.3:8081")

    assert settings.MIDDLEWARE[0] == "core.probes.probes_middleware"
    with override_settings(ALLOWED_HOSTS=["lmos.example.com"]):
        client = pod()
        assert client.get("/health/liveness").status_code == 200
        assert client.get("/health/readiness").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/admin/").status_code == 400
        without = [m for m in settings.MIDDLEWARE if m != "core.probes.probes_middleware"]
        with override_settings(MIDDLEWARE=without):
            assert pod().get("/health/liveness").status_code == 400


# --- metrics -------------------------------------------------------------------------


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_metrics_expose_turns_routing_agent_errors_and_syncs_in_prometheus_format(client):
    before = _sample("lmos_turns_total", tenant="acme", channel="web", agent="billing-agent", status="ok")
    metrics.turn_observed(tenant="acme", channel="web", agent="billing-agent", status="ok", seconds=0.2)
    metrics.turn_observed(tenant="acme", channel="web", agent=None, status="AGENT_NOT_FOUND", seconds=0.01)
    metrics.routing_observed(strategy="vector", seconds=0.004)
    metrics.routing_observed(strategy="vector", seconds=0.003, outcome="no_agent")
    metrics.agent_error(kind="timeout")
    metrics.sync_observed(source="operator", status="failed", seconds=1.5)
    with metrics.turn_in_flight():
        assert _sample("lmos_turns_in_flight") >= 1

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    for name in (
        "lmos_turns",
        "lmos_turn_duration_seconds",
        "lmos_routing_decisions",
        "lmos_routing_duration_seconds",
        "lmos_agent_errors",
        "lmos_registry_syncs",
        "lmos_registry_sync_duration_seconds",
        "lmos_database_up",
        "lmos_registry_tenants",
    ):
        assert name in families, name
    turns = {
        tuple(sorted(s.labels.items())): s.value for s in families["lmos_turns"].samples if s.name.endswith("_total")
    }
    key = (("agent", "billing-agent"), ("channel", "web"), ("status", "ok"), ("tenant", "acme"))
    assert turns[key] == before + 1
    assert (("agent", "none"), ("channel", "web"), ("status", "AGENT_NOT_FOUND"), ("tenant", "acme")) in turns
    assert _sample("lmos_turn_duration_seconds_count", tenant="acme", status="ok") >= 1
    assert _sample("lmos_routing_decisions_total", strategy="vector", outcome="no_agent") >= 1
    assert _sample("lmos_agent_errors_total", kind="timeout") >= 1
    assert _sample("lmos_registry_syncs_total", source="operator", status="failed") >= 1
    assert families["lmos_database_up"].samples[0].value == 1
    for family in families.values():
        for sample in family.samples:
            assert not {"conversation_id", "turn_id", "conversation", "turn"} & set(sample.labels)


def test_label_values_are_bounded(monkeypatch):
    monkeypatch.setitem(metrics._LABEL_LIMITS, "tenant", 2)
    monkeypatch.setitem(metrics._seen, "tenant", set())
    assert [metrics.bounded("tenant", t) for t in ("a", "b", "c", "a", "")] == [
        "a",
        "b",
        metrics.OTHER,
        "a",
        "__other__",
    ]
    assert metrics.bounded("agent", None) == "none"


# --- a real server whose database is unreachable --------------------------------------


@pytest.fixture(params=["refused", "silent"])
def server_without_database(request, tmp_path, silent_server) -> Iterator[str]:
    """daphne on loopback with DATABASE_URL pointing at a closed port, or at a socket that
    never answers."""
    db_port = closed_port() if request.param == "refused" else silent_server
    port = closed_port()
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environment.update(
        DJANGO_SETTINGS_MODULE="lmos_runtime.settings",
        SECRET_KEY="test-" + "x" * 40,
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{db_port}/lmos",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_FORMAT="json",
    )
    log = (tmp_path / "daphne.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "lmos_runtime.asgi:application"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health/liveness", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("daphne did not start: " + (tmp_path / "daphne.log").read_text()[-2000:])
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_database_unreachable_makes_readiness_503_and_liveness_200(server_without_database):
    base = server_without_database
    assert httpx.get(f"{base}/health/liveness", timeout=5).status_code == 200

    for path in ("/health/readiness", "/health"):
        started = time.monotonic()
        response = httpx.get(f"{base}{path}", timeout=10)
        assert time.monotonic() - started < PROBE_BUDGET_SECONDS, path
        assert response.status_code == 503
        assert response.json()["status"] == "down"
        assert response.json()["database"] == "down"

    assert httpx.get(f"{base}/health/liveness", timeout=5).status_code == 200
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["lmos_database_up"].samples[0].value == 0
    assert "lmos_registry_tenants" not in families
