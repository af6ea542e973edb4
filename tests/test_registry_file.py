"""The file source: good, empty and broken YAML, synced into the database."""

from __future__ import annotations

import pytest

from agents.models import Agent, Channel, SyncRun
from agents.services import registry_sync_tenant
from agents.sources import SourceError
from agents.sources.file import FileSource

GOOD = """
channelRoutings:
  - metadata:
      name: acme-web-stable
      namespace: default
      labels: {tenant: acme, channel: web, version: "1.0.0", subset: stable}
    spec:
      capabilityGroups:
        - id: billing-agent-id
          name: billing-agent
          description: Answers questions about bills
          capabilities:
            - {id: view-bill-id, name: view-bill, providedVersion: "1.0.0", requiredVersion: ">=1.0.0",
               description: Shows the customer's bill, host: "billing-agent.default.svc.cluster.local",
               examples: ["why is my bill so high"]}
        - name: contract-agent
          description: Contracts
          unknownField: ignored
          capabilities:
            - {name: cancel-contract, providedVersion: 1.1, host: "contract-agent:8080"}
  - metadata:
      labels: {tenant: acme, channel: app, version: 2}
    spec:
      capabilityGroups:
        - {name: app-agent, capabilities: [{name: app, host: "app-agent:8080"}]}
  - metadata:
      labels: {tenant: other, channel: web, subset: stable}
    spec:
      capabilityGroups:
        - {name: other-agent, capabilities: [{name: x, host: "other:1"}]}
"""


def write(tmp_path, text: str):
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    return path


def test_good_file_is_parsed_leniently_and_filtered_by_tenant_and_subset(tmp_path):
    source = FileSource(write(tmp_path, GOOD))

    result = source.fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web", "app"]
    web, app = result.routings
    assert [a.name for a in web.agents] == ["billing-agent", "contract-agent"]
    assert web.agents[0].capabilities[0].examples == ("why is my bill so high",)
    assert web.agents[1].capabilities[0].provided_version == "1.1"
    assert (app.subset, app.version) == ("stable", "2")
    assert result.warnings == []
    assert source.tenants() == [("acme", "stable"), ("other", "stable")]


@pytest.mark.parametrize("text", ["", "# nothing here\n", "channelRoutings: []\n", "channelRoutings:\n"])
def test_empty_file_is_an_empty_registry(tmp_path, text):
    assert FileSource(write(tmp_path, text)).fetch(tenant_id="acme", subset="stable").routings == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("channelRoutings: [unclosed\n", "is not valid YAML"),
        ("- just\n- a list\n", "expected a mapping with a list 'channelRoutings'"),
        ("channelRoutings: {a: 1}\n", "expected a mapping with a list 'channelRoutings'"),
    ],
)
def test_broken_yaml_is_a_source_error(tmp_path, text, message):
    with pytest.raises(SourceError, match=message):
        FileSource(write(tmp_path, text)).fetch(tenant_id="acme", subset="stable")


def test_missing_file_and_unset_setting_are_source_errors(tmp_path, settings):
    with pytest.raises(SourceError, match="cannot read"):
        FileSource(tmp_path / "absent.yaml").fetch(tenant_id="acme", subset="stable")
    settings.AGENT_REGISTRY_FILE = None
    with pytest.raises(SourceError, match="needs AGENT_REGISTRY_FILE"):
        FileSource().fetch(tenant_id="acme", subset="stable")


def test_unusable_entries_are_warnings_of_their_own_tenant_only(tmp_path):
    text = GOOD + (
        "  - metadata: {labels: {tenant: acme, channel: broken}}\n"
        "    spec: {capabilityGroups: [{name: nohost, capabilities: [{name: c}]}]}\n"
        "  - metadata: {labels: {tenant: other, channel: bad}}\n"
        "    spec: {capabilityGroups: 7}\n"
    )
    source = FileSource(write(tmp_path, text))

    acme = source.fetch(tenant_id="acme", subset="stable")
    other = source.fetch(tenant_id="other", subset="stable")

    assert [r.channel_id for r in acme.routings] == ["web", "app"]
    assert len(acme.warnings) == 1 and "agent 'nohost' has no capability with a host" in acme.warnings[0]
    assert acme.unreadable == {"broken"}
    assert len(other.warnings) == 1 and "capabilityGroups must be a list" in other.warnings[0]


@pytest.mark.django_db
def test_broken_file_keeps_the_registry_synced_from_the_good_one(tmp_path):
    path = write(tmp_path, GOOD)
    first = registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(path))
    path.write_text("channelRoutings: [unclosed\n")

    run = registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(path))

    assert (first.status, first.source, first.added) == ("ok", "file", 5)
    assert run.status == SyncRun.Status.FAILED and "not valid YAML" in run.error
    assert Channel.objects.filter(active=True).count() == 2
    assert Agent.objects.filter(active=True, source="file").count() == 3


@pytest.mark.django_db
def test_emptied_file_deactivates_everything(tmp_path):
    path = write(tmp_path, GOOD)
    registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(path))
    path.write_text("channelRoutings: []\n")

    run = registry_sync_tenant(tenant_id="acme", subset="stable", source=FileSource(path))

    assert (run.status, run.removed) == ("ok", 5)
    assert not Agent.objects.filter(active=True).exists()
