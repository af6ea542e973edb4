"""The metrics the Grafana dashboard reads that the basic metric tests do not cover: the
circuit-breaker gauge through real failing turns, the per-tenant age of the last successful
sync from /metrics, and a real prefork Celery worker serving its pool's counters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from agents.models import SyncRun, Tenant
from tests.conftest import free_port
from tests.support import agents
from tests.support.arc_server import ArcServer
from tests.test_chat_api import body, post, registry, url

ROOT = Path(__file__).resolve().parent.parent


def samples(text: str, name: str) -> dict[tuple, float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


@pytest.mark.django_db(transaction=True)
async def test_circuit_gauge_is_one_while_the_circuit_is_open_and_zero_after_recovery(settings):
    settings.AGENT_CIRCUIT_FAILURES = 2
    settings.AGENT_CIRCUIT_COOLDOWN = 0.3
    port = free_port()
    address = f"127.0.0.1:{port}"
    await registry({"billing-agent": address}, fallback="billing-agent")

    def gauge() -> float | None:
        return REGISTRY.get_sample_value("lmos_agent_circuit_open", {"address": f"ws://{address}/subscriptions"})

    assert (await post(url(), body(), turn="t0")).status_code == 502
    assert gauge() in (None, 0.0), "one failure does not open the circuit"
    assert (await post(url(), body(), turn="t1")).status_code == 502
    assert gauge() == 1.0
    server = await ArcServer(agents.echo(), port=port).start()
    try:
        await asyncio.sleep(0.4)
        assert (await post(url(), body(), turn="t2")).status_code == 200
        assert gauge() == 0.0
    finally:
        from agents.client import close_pool

        await close_pool()
        await server.stop()


@pytest.mark.django_db
def test_metrics_report_each_tenants_last_successful_sync_age(client):
    now = timezone.now()
    acme, globex = Tenant.objects.create(tenant_id="acme"), Tenant.objects.create(tenant_id="globex")
    SyncRun.objects.create(source="file", tenant=acme, status="ok", started_at=now - timedelta(seconds=125),
                           finished_at=now - timedelta(seconds=120))  # fmt: skip
    SyncRun.objects.create(source="file", tenant=acme, status="failed", started_at=now, finished_at=now)
    SyncRun.objects.create(source="file", tenant=globex, status="failed", started_at=now, finished_at=now)
    ages = samples(client.get("/metrics").content.decode(), "lmos_registry_tenant_sync_age_seconds")
    assert set(ages) == {(("tenant", "acme"),)}, "a tenant that never synced successfully has no age"
    assert 120 <= ages[(("tenant", "acme"),)] < 180, "the failed run after it does not reset the age"


REGISTRY_FILE = """
channelRoutings:
  - metadata: {labels: {tenant: acme, channel: web, subset: stable}}
    spec:
      capabilityGroups:
        - {name: billing-agent, capabilities: [{name: bill, host: "billing:8080"}]}
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis as the Celery broker: set REDIS_URL")
def test_prefork_worker_serves_the_counters_of_its_pool_processes(tmp_path, live_server_env):
    (tmp_path / "registry.yaml").write_text(REGISTRY_FILE)
    queue = f"metrics-test-{uuid.uuid4().hex}"
    (tmp_path / "metrics_test_celery.py").write_text(
        f"from lmos_runtime.celery import app\napp.conf.task_default_queue = {queue!r}\n"
    )
    port = free_port()
    multiproc = tmp_path / "multiproc"
    env = {
        **live_server_env,
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
        "REDIS_URL": settings.REDIS_URL,
        "REGISTRY_SOURCE": "file",
        "AGENT_REGISTRY_FILE": str(tmp_path / "registry.yaml"),
        "WORKER_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"left over from an earlier run")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "metrics_test_celery", "worker", "--pool=prefork",
             "--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    from lmos_runtime.celery import app

    try:
        app.send_task("agents.tasks.sync_tenant", args=["acme", "stable"], queue=queue)
        deadline = time.monotonic() + 40
        synced: dict = {}
        while not synced.get((("source", "file"), ("status", "ok"))):
            assert worker.poll() is None, "worker exited: " + log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no sync counted within 40 s: " + log.read_text()[-3000:]
            time.sleep(0.5)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                continue
            synced = samples(text, "lmos_registry_syncs_total")
        assert synced[(("source", "file"), ("status", "ok"))] == 1.0
        assert not (multiproc / "counter_999999.db").exists(), "files of an earlier run are cleared at start"
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=5)
