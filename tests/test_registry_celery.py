"""A real Celery worker and beat against Redis sync the registry on schedule."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from agents.models import Agent, SyncRun

ROOT = Path(__file__).resolve().parent.parent

REGISTRY = """
channelRoutings:
  - metadata: {labels: {tenant: acme, channel: web, subset: stable}}
    spec:
      capabilityGroups:
        - {name: billing-agent, capabilities: [{name: bill, host: "billing:8080"}]}
"""


def _stop(process: subprocess.Popen, log: Path) -> str:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return log.read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis as the Celery broker: set REDIS_URL")
def test_worker_and_beat_sync_the_registry(tmp_path, live_server_env):
    (tmp_path / "registry.yaml").write_text(REGISTRY)
    # A queue of our own, so that other workers on the same Redis never take our tasks.
    (tmp_path / "registry_test_celery.py").write_text(
        f"from lmos_runtime.celery import app\napp.conf.task_default_queue = 'registry-test-{uuid.uuid4().hex}'\n"
    )
    env = {
        **live_server_env,
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
        "REDIS_URL": settings.REDIS_URL,
        "REGISTRY_SOURCE": "file",
        "AGENT_REGISTRY_FILE": str(tmp_path / "registry.yaml"),
        "AGENT_SYNC_INTERVAL": "1",
        "LMOS_TENANTS": "",
    }
    celery = [sys.executable, "-m", "celery", "-A", "registry_test_celery"]
    worker_out, beat_out = tmp_path / "worker.log", tmp_path / "beat.log"
    with worker_out.open("wb") as out:
        worker = subprocess.Popen(
            [*celery, "worker", "--pool=solo", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    with beat_out.open("wb") as out:
        beat = subprocess.Popen(
            [*celery, "beat", "-s", str(tmp_path / "beat-schedule"), "--loglevel=INFO"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 35
        while not SyncRun.objects.filter(status="ok").exists():
            assert worker.poll() is None and beat.poll() is None, "celery exited early: " + worker_out.read_text()
            assert time.monotonic() < deadline, "no SyncRun within 35 s: " + worker_out.read_text()[-3000:]
            time.sleep(0.25)
    finally:
        worker_log, beat_log = _stop(worker, worker_out), _stop(beat, beat_out)
    run = SyncRun.objects.filter(status="ok").earliest("started_at")
    assert (run.source, run.tenant.tenant_id, run.subset, run.added) == ("file", "acme", "stable", 2), worker_log
    assert Agent.objects.get().name == "billing-agent"
    assert "agents.tasks.sync_all_tenants" in beat_log
