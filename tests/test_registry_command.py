"""`manage.py sync_agents` and the embedded scheduler."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from agents.models import Agent, SyncRun
from core.scheduler import start_embedded_scheduler, stop_embedded_scheduler
from tests.support.registry_fakes import Behaviour, FakeOperator, routing_doc

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def operator(settings):
    fake = FakeOperator()
    settings.REGISTRY_SOURCE = "operator"
    settings.AGENT_REGISTRY_URL = fake.url
    settings.AGENT_REGISTRY_TIMEOUT = 2.0
    settings.LMOS_TENANTS = []
    settings.LMOS_SUBSETS = ["stable"]
    yield fake
    fake.close()


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_agents", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_command_prints_what_changed_then_no_change(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills", "contract-agent": "Contracts"}))

    out, _ = run_command("--tenant", "acme")
    again, _ = run_command("--tenant", "acme")

    assert "operator acme/stable: ok, changed: channels=1 added=3 updated=0 removed=0 version=1" in out
    assert "  + channel web 1.0.0" in out and "  + agent web/contract-agent" in out
    assert "acme/stable: ok, no change: channels=1 added=0 updated=0 removed=0 version=1" in again


@pytest.mark.django_db
def test_command_without_targets_says_so(operator):
    out, _ = run_command()
    assert "Nothing to sync" in out


@pytest.mark.django_db
def test_command_fails_within_the_budget_for_many_tenants_when_the_source_is_down(operator, settings):
    settings.AGENT_REGISTRY_TIMEOUT = 1.0
    settings.LMOS_TENANTS = [f"tenant-{i}" for i in range(6)]
    operator.behaviours["*"] = Behaviour(status=503)

    started = time.monotonic()
    with pytest.raises(CommandError, match="6 of 6 syncs failed"):
        run_command()

    assert time.monotonic() - started < 3.0  # fetched in parallel, not 6 x the budget
    assert SyncRun.objects.filter(status="failed").count() == 6


@pytest.mark.django_db
def test_command_reports_warnings_and_keeps_going(operator):
    operator.put(routing_doc("acme", "web"))
    operator.put(routing_doc("acme", "app"))
    operator.behaviours[operator.routing_path("acme", "app")] = Behaviour(status=200, body=b"<html>")

    out, _ = run_command("--tenant", "acme")

    assert "ok, changed" in out and "warning: channel 'app': the routing is not JSON" in out


@pytest.mark.django_db(transaction=True)
def test_command_process_exits_non_zero_within_timeout_when_the_source_is_unreachable(live_server_env):
    fake = FakeOperator()
    url = fake.url
    fake.close()  # nothing listens there any more
    env = {
        **live_server_env,
        "REGISTRY_SOURCE": "operator",
        "AGENT_REGISTRY_URL": url,
        "AGENT_REGISTRY_TIMEOUT": "2",
        "LMOS_TENANTS": "acme,globex",
    }
    env.pop("REDIS_URL", None)

    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "manage.py", "sync_agents"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    elapsed = time.monotonic() - started

    assert process.returncode != 0
    assert "2 of 2 syncs failed" in process.stderr and "ConnectError" in process.stderr
    assert "acme/stable: FAILED, registry kept" in process.stdout
    durations = [int(ms) for ms in re.findall(r"\((\d+) ms\)", process.stdout)]
    assert len(durations) == 2 and max(durations) < 2000 + 500  # each sync gave up at its budget
    assert elapsed < 2 + 12  # the budget, plus interpreter and Django start-up on a busy machine


@pytest.mark.django_db(transaction=True)
def test_embedded_scheduler_syncs_on_a_timer_without_redis(settings, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "channelRoutings:\n"
        "  - metadata: {labels: {tenant: acme, channel: web}}\n"
        "    spec: {capabilityGroups: [{name: billing-agent, capabilities: [{name: bill, host: 'b:1'}]}]}\n"
    )
    settings.REDIS_URL = None
    settings.REGISTRY_SOURCE = "file"
    settings.AGENT_REGISTRY_FILE = str(registry)
    settings.AGENT_SYNC_INTERVAL = 1.0
    settings.LMOS_TENANTS = []
    try:
        start_embedded_scheduler()
        start_embedded_scheduler()  # idempotent
        deadline = time.monotonic() + 10
        while SyncRun.objects.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_embedded_scheduler(timeout=10)

    runs = list(SyncRun.objects.order_by("started_at"))
    assert len(runs) >= 2, "the timer should have synced at least twice in 10 s"
    assert runs[0].added == 2 and runs[1].added == 0
    assert Agent.objects.get().name == "billing-agent"


def test_embedded_scheduler_stays_off_when_redis_runs_celery(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    start_embedded_scheduler()
    from core import scheduler

    assert scheduler._thread is None
