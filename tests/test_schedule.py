"""One schedule (settings.SCHEDULE) drives Celery beat and the embedded timer alike."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from agents.models import Tenant
from conversations.models import Conversation
from core.scheduler import interval, start_embedded_scheduler, stop_embedded_scheduler


def test_beat_runs_exactly_the_schedule(settings):
    from lmos_runtime.celery import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE.keys() == {job["name"] for job in settings.SCHEDULE}
    for job in settings.SCHEDULE:
        entry = settings.CELERY_BEAT_SCHEDULE[job["name"]]
        assert entry["task"] == job["task"] and entry["schedule"] == interval(job)
        # The name beat sends is the task's dotted path, which the embedded timer imports.
        assert job["task"] in app.tasks and import_string(job["task"]).name == job["task"]
    assert {job["task"] for job in settings.SCHEDULE} == {
        "agents.tasks.sync_all_tenants",
        "routing.tasks.learn_from_traffic",
        "conversations.tasks.purge_old_conversations",
    }


def test_intervals_named_by_a_setting_are_read_when_the_job_runs(settings):
    (sync,) = [job for job in settings.SCHEDULE if job["name"] == "sync-agent-registry"]
    settings.AGENT_SYNC_INTERVAL = 7.0
    assert interval(sync) == 7.0


@pytest.mark.django_db(transaction=True)
def test_the_embedded_timer_purges_old_conversations_without_redis(settings, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text("channelRoutings: []\n")
    settings.REDIS_URL = None
    settings.REGISTRY_SOURCE = "file"
    settings.AGENT_REGISTRY_FILE = str(registry)
    settings.LMOS_TENANTS = []
    settings.CONVERSATION_RETENTION_DAYS = 30
    tenant = Tenant.objects.create(tenant_id="acme", origin=Tenant.Origin.CONFIG)
    for conversation_id, age in (("old", 40), ("new", 1)):
        conversation = Conversation.objects.create(tenant=tenant, conversation_id=conversation_id, channel_id="web")
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now() - timedelta(days=age))
    try:
        start_embedded_scheduler()
        deadline = time.monotonic() + 15
        while Conversation.objects.filter(conversation_id="old").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_embedded_scheduler(timeout=10)
    assert list(Conversation.objects.values_list("conversation_id", flat=True)) == ["new"]
