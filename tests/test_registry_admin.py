"""The registry in the admin: sync now, sync runs, agents with source / last seen / active."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.models import Agent, RegistryTarget, SyncRun, Tenant
from agents.services import registry_sync_tenant
from agents.sources.file import FileSource

pytestmark = pytest.mark.django_db

REGISTRY = """
channelRoutings:
  - metadata: {name: acme-web-stable, labels: {tenant: acme, channel: web, version: "1.0.0", subset: stable}}
    spec:
      capabilityGroups:
        - {name: billing-agent, description: Bills, capabilities: [{name: bill, host: "billing:8080"}]}
"""


@pytest.fixture
def registry_file(tmp_path, settings):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY)
    settings.REGISTRY_SOURCE = "file"
    settings.AGENT_REGISTRY_FILE = str(path)
    settings.LMOS_TENANTS = []
    settings.LMOS_SUBSETS = ["stable"]
    return path


def test_sync_now_action_syncs_the_selected_tenants(admin_client, registry_file):
    tenant = Tenant.objects.create(tenant_id="acme", origin=Tenant.Origin.ADMIN)

    response = admin_client.post(
        reverse("admin:agents_tenant_changelist"),
        {"action": "sync_now", "_selected_action": [tenant.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Synced acme/stable from file: +2 ~0 -0, registry version 1" in response.content.decode()
    assert SyncRun.objects.get().status == "ok"
    assert Agent.objects.get().name == "billing-agent"


def test_sync_now_reports_a_failing_source(admin_client, registry_file):
    registry_file.write_text("channelRoutings: [broken\n")
    tenant = Tenant.objects.create(tenant_id="acme")

    response = admin_client.post(
        reverse("admin:agents_tenant_changelist"), {"action": "sync_now", "_selected_action": [tenant.pk]}, follow=True
    )

    assert "Sync of acme/stable failed, registry kept" in response.content.decode()


def test_sync_now_from_the_synced_subsets_list(admin_client, registry_file):
    registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(registry_file))
    target = RegistryTarget.objects.get()

    response = admin_client.post(
        reverse("admin:agents_registrytarget_changelist"),
        {"action": "sync_now", "_selected_action": [target.pk]},
        follow=True,
    )

    assert "Synced acme/stable from file: +0 ~0 -0" in response.content.decode()
    assert SyncRun.objects.count() == 2


def test_sync_runs_and_agents_are_listed_read_only(admin_client, registry_file):
    registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(registry_file))
    run = SyncRun.objects.get()
    agent = Agent.objects.get()

    runs = admin_client.get(reverse("admin:agents_syncrun_changelist"))
    run_page = admin_client.get(reverse("admin:agents_syncrun_change", args=[run.pk]))
    agents = admin_client.get(reverse("admin:agents_agent_changelist"))
    agent_page = admin_client.get(reverse("admin:agents_agent_change", args=[agent.pk]))
    tenant_page = admin_client.get(reverse("admin:agents_tenant_change", args=[agent.tenant_id]))

    assert runs.status_code == run_page.status_code == agents.status_code == agent_page.status_code == 200
    assert "+ agent web/billing-agent" in run_page.content.decode()
    listing = agents.content.decode().lower()
    assert "billing-agent" in listing and "file" in listing and "last seen" in listing
    assert 'name="_save"' not in agent_page.content.decode()  # synced data is read-only
    assert "synced subsets" in tenant_page.content.decode().lower()
    assert admin_client.get(reverse("admin:agents_agent_add")).status_code == 403


def test_a_sync_keeps_learned_examples_and_the_admin_can_forget_them(admin_client, registry_file):
    from agents.models import Channel

    tenant = Tenant.objects.create(tenant_id="acme", origin=Tenant.Origin.ADMIN)
    registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(registry_file))
    channel = Channel.objects.get()
    Channel.objects.filter(pk=channel.pk).update(learned_examples={"billing-agent": ["why is my bill so high"]})

    registry_file.write_text(REGISTRY.replace("description: Bills", "description: Bills and invoices"))
    registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(registry_file))
    channel.refresh_from_db()
    assert channel.learned_examples == {"billing-agent": ["why is my bill so high"]}

    page = admin_client.get(reverse("admin:agents_channel_change", args=[channel.pk]))
    assert "why is my bill so high" in page.content.decode()
    version = Tenant.objects.get(pk=tenant.pk).registry_version
    response = admin_client.post(
        reverse("admin:agents_channel_changelist"),
        {"action": "forget_learned", "_selected_action": [channel.pk]},
        follow=True,
    )
    assert "Forgot the learned examples of 1 channel(s)." in response.content.decode()
    channel.refresh_from_db()
    assert channel.learned_examples == {}
    assert Tenant.objects.get(pk=tenant.pk).registry_version == version + 1
