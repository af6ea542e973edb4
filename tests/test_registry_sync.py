"""The sync service: upsert, deactivation, idempotency, versions, SyncRuns, targets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent, Capability, Channel, RegistryTarget, SyncRun, Tenant
from agents.selectors import channel_registry
from agents.services import registry_note_traffic, registry_sync_targets, registry_sync_tenant
from agents.sources.file import FileSource
from agents.sources.operator import OperatorSource
from tests.support.registry_fakes import Behaviour, FakeOperator, routing_doc

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    fake = FakeOperator()
    yield fake
    fake.close()


def sync(fake: FakeOperator, tenant: str = "acme", subset: str = "stable", timeout: float = 3.0) -> SyncRun:
    return registry_sync_tenant(tenant_id=tenant, subset=subset, source=OperatorSource(fake.url, timeout=timeout))


def version(tenant_id: str = "acme") -> int:
    return Tenant.objects.get(tenant_id=tenant_id).registry_version


def test_first_sync_stores_channels_agents_and_capabilities(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills", "contract-agent": "Contracts"}))
    operator.put(routing_doc("acme", "app"))

    run = sync(operator)

    assert (run.status, run.channels, run.added, run.updated, run.removed) == ("ok", 2, 5, 0, 0)
    assert run.registry_version == version() == 1
    assert run.duration_ms > 0 and run.finished_at is not None and run.error == ""
    assert "+ channel web 1.0.0" in run.changes and "+ agent web/contract-agent" in run.changes
    agent = Agent.objects.get(channel__channel_id="web", name="billing-agent")
    assert (agent.address, agent.source, agent.active, agent.subset) == (
        "billing-agent.default.svc.cluster.local",
        "operator",
        True,
        "stable",
    )
    assert agent.last_seen_at is not None
    cap = Capability.objects.get(agent=agent)
    assert (cap.name, cap.capability_id, cap.required_version, cap.examples) == (
        "billing-agent-cap",
        "billing-agent-cap-id",
        ">=1.0.0",
        ["help me with billing-agent"],
    )
    target = RegistryTarget.objects.get(tenant__tenant_id="acme", subset="stable")
    assert target.last_synced_at is not None and target.last_error == ""


def test_second_sync_changes_nothing_and_keeps_the_version(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills", "contract-agent": "Contracts"}))
    sync(operator)
    before = list(Agent.objects.values_list("pk", "last_seen_at", "description").order_by("pk"))

    run = sync(operator)

    assert (run.status, run.added, run.updated, run.removed, run.changes) == ("ok", 0, 0, 0, [])
    assert run.registry_version == version() == 1
    assert list(Agent.objects.values_list("pk", "last_seen_at", "description").order_by("pk")) == before


def test_statements_of_a_no_change_sync_do_not_grow_with_the_registry(operator):
    def statements_for_resync(channels: int) -> int:
        for index in range(channels):
            operator.put(routing_doc("acme", f"c{index}", agents={f"a{i}": "x" for i in range(3)}))
        sync(operator)
        with CaptureQueriesContext(connection) as queries:
            run = sync(operator)
        assert run.added == run.updated == run.removed == 0
        return len(queries)

    small = statements_for_resync(3)
    large = statements_for_resync(60)
    assert small == large <= 12


def test_statements_of_a_changing_sync_grow_with_the_change_in_batches(operator):
    for index in range(300):
        operator.put(routing_doc("acme", f"c{index}", agents={f"a{i}": "x" for i in range(5)}))
    with CaptureQueriesContext(connection) as queries:
        first = sync(operator)
    assert first.added == 300 + 1500
    assert len(queries) < (300 + 1500 + 1500) / 50  # bulk inserts, not one statement per row

    for index in range(3):
        operator.put(routing_doc("acme", f"c{index}", agents={f"a{i}": "changed" for i in range(5)}))
    with CaptureQueriesContext(connection) as queries:
        changed = sync(operator)
    assert (changed.updated, changed.registry_version) == (15, 2)
    assert len(queries) <= 16


def test_changed_agent_is_updated_and_bumps_the_version(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills"}))
    sync(operator)
    routing = routing_doc("acme", "web", agents={"billing-agent": "Bills and invoices"})
    routing["spec"]["capabilityGroups"][0]["capabilities"][0]["examples"] = ["where is my invoice"]
    operator.put(routing)

    run = sync(operator)

    assert (run.added, run.updated, run.removed) == (0, 1, 0)
    assert run.changes == ["~ agent web/billing-agent"]
    assert version() == 2
    agent = Agent.objects.get(name="billing-agent")
    assert agent.description == "Bills and invoices"
    assert Capability.objects.get(agent=agent).examples == ["where is my invoice"]


def test_capability_added_and_removed_counts_as_agent_update(operator):
    operator.put(routing_doc("acme", "web"))
    sync(operator)
    routing = routing_doc("acme", "web")
    caps = routing["spec"]["capabilityGroups"][0]["capabilities"]
    caps[0]["name"] = "renamed-cap"
    caps.append({"name": "second", "host": "billing-agent.default.svc.cluster.local"})
    operator.put(routing)

    run = sync(operator)

    assert (run.added, run.updated, run.removed) == (0, 1, 0)
    assert sorted(Capability.objects.values_list("name", flat=True)) == ["renamed-cap", "second"]


def test_vanished_agent_and_channel_are_deactivated_not_deleted(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills", "contract-agent": "Contracts"}))
    operator.put(routing_doc("acme", "app"))
    sync(operator)
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills"}))
    operator.remove("acme", "app")

    run = sync(operator)

    assert (run.added, run.updated, run.removed) == (0, 0, 3)
    assert sorted(run.changes) == ["- agent app/billing-agent", "- agent web/contract-agent", "- channel app"]
    assert version() == 2
    assert not Channel.objects.get(channel_id="app").active
    assert set(Agent.objects.filter(active=True).values_list("channel__channel_id", "name")) == {
        ("web", "billing-agent")
    }
    gone = Agent.objects.get(channel__channel_id="web", name="contract-agent")
    first_sync = RegistryTarget.objects.get().last_synced_at
    assert gone.last_seen_at is not None and gone.last_seen_at <= first_sync
    tenant = Tenant.objects.get(tenant_id="acme")
    assert channel_registry(tenant=tenant, channel_id="app", subset="stable") is None
    assert [a.name for a in channel_registry(tenant=tenant, channel_id="web", subset="stable").agents] == [
        "billing-agent"
    ]


def test_channel_coming_back_is_reactivated_with_its_agents(operator):
    operator.put(routing_doc("acme", "web"))
    sync(operator)
    operator.remove("acme", "web")
    sync(operator)
    operator.put(routing_doc("acme", "web"))

    run = sync(operator)

    assert (run.added, run.updated, run.removed) == (2, 0, 0)
    assert Channel.objects.get().active and Agent.objects.get().active
    assert Channel.objects.count() == 1 and Agent.objects.count() == 1


def test_channel_without_routing_404_deactivates_a_stored_channel(operator):
    operator.put(routing_doc("acme", "web"))
    sync(operator)
    operator.put_channel_without_routing("acme", "web")

    run = sync(operator)

    assert run.removed == 2 and not Channel.objects.get().active
    assert run.changes == ["- channel web", "- agent web/billing-agent"]


def test_failing_source_keeps_the_last_good_registry(operator):
    operator.put(routing_doc("acme", "web"))
    sync(operator)
    operator.behaviours["*"] = Behaviour(status=500)

    run = sync(operator, timeout=0.5)

    assert run.status == "failed" and "HTTP 500" in run.error
    assert (run.added, run.updated, run.removed, run.registry_version) == (0, 0, 0, 1)
    assert version() == 1
    assert Channel.objects.get().active and Agent.objects.get().active
    target = RegistryTarget.objects.get()
    assert "HTTP 500" in target.last_error and target.last_attempt_at > target.last_synced_at


def test_unreadable_routing_keeps_what_was_stored_for_that_channel(operator):
    operator.put(routing_doc("acme", "web"))
    operator.put(routing_doc("acme", "app"))
    sync(operator)
    operator.behaviours[operator.routing_path("acme", "app")] = Behaviour(status=200, body=b"{garbage")
    operator.put(routing_doc("acme", "web", agents={"new-agent": "New"}))

    run = sync(operator)

    assert run.status == "ok"
    assert any("'app'" in w and "not JSON" in w for w in run.warnings)
    assert Channel.objects.get(channel_id="app").active
    assert Agent.objects.get(channel__channel_id="app").active
    assert (run.added, run.removed) == (1, 1)  # web: new-agent in, billing-agent out


def test_operator_set_channel_fields_survive_a_sync(operator):
    operator.put(routing_doc("acme", "web"))
    sync(operator)
    Channel.objects.update(fallback_agent="billing-agent", vector_threshold=0.4, vector_margin=0.05)
    operator.put(routing_doc("acme", "web", version="2.0.0"))

    run = sync(operator)

    channel = Channel.objects.get()
    assert run.changes == ["~ channel web 1.0.0 -> 2.0.0"]
    assert (channel.version, channel.fallback_agent, channel.vector_threshold, channel.vector_margin) == (
        "2.0.0",
        "billing-agent",
        0.4,
        0.05,
    )


def test_subsets_are_synced_separately(operator):
    operator.put(routing_doc("acme", "web", agents={"stable-agent": "S"}))
    operator.put(routing_doc("acme", "web", subset="canary", agents={"canary-agent": "C"}))

    sync(operator)
    sync(operator, subset="canary")
    operator.remove("acme", "web", subset="canary")
    sync(operator, subset="canary")

    assert Channel.objects.get(subset="stable").active and not Channel.objects.get(subset="canary").active
    assert list(Agent.objects.filter(active=True).values_list("name", flat=True)) == ["stable-agent"]


def test_sync_targets_follow_config_admin_traffic_and_file(settings, tmp_path):
    settings.LMOS_TENANTS = ["configured"]
    settings.LMOS_SUBSETS = ["stable", "beta"]
    Tenant.objects.create(tenant_id="made-in-admin", origin=Tenant.Origin.ADMIN)
    registry_note_traffic(tenant_id="from-traffic", subset="canary")
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(
        "channelRoutings:\n"
        "  - metadata: {labels: {tenant: in-file, channel: web, subset: gamma}}\n"
        "    spec: {capabilityGroups: [{name: a, capabilities: [{name: c, host: 'h:1'}]}]}\n"
    )

    targets = registry_sync_targets(source=FileSource(registry_file))

    assert targets == [
        ("configured", "beta"),
        ("configured", "stable"),
        ("from-traffic", "beta"),
        ("from-traffic", "canary"),
        ("from-traffic", "stable"),
        ("in-file", "gamma"),
        ("made-in-admin", "beta"),
        ("made-in-admin", "stable"),
    ]
    assert registry_sync_targets(tenants=["from-traffic"], subsets=["canary"]) == [("from-traffic", "canary")]
    assert registry_sync_targets(tenants=["from-traffic"]) == [
        ("from-traffic", "beta"),
        ("from-traffic", "canary"),
        ("from-traffic", "stable"),
    ]


def test_note_traffic_creates_tenant_and_subset_once_and_is_one_query_after(django_assert_num_queries):
    tenant = registry_note_traffic(tenant_id="newcomer", subset="canary")

    assert (tenant.tenant_id, tenant.origin) == ("newcomer", "traffic")
    target = RegistryTarget.objects.get(tenant=tenant)
    assert (target.subset, target.origin, target.last_synced_at) == ("canary", "traffic", None)

    with django_assert_num_queries(1):
        again = registry_note_traffic(tenant_id="newcomer", subset="canary")
    assert again.pk == tenant.pk

    registry_note_traffic(tenant_id="newcomer", subset="stable")
    assert sorted(RegistryTarget.objects.values_list("subset", flat=True)) == ["canary", "stable"]


def test_note_traffic_keeps_the_origin_of_an_existing_tenant():
    Tenant.objects.create(tenant_id="acme", origin=Tenant.Origin.ADMIN)
    assert registry_note_traffic(tenant_id="acme", subset="stable").origin == "admin"


def test_sync_of_a_configured_tenant_records_its_origin(operator, settings):
    settings.LMOS_TENANTS = ["acme"]
    sync(operator)
    assert Tenant.objects.get().origin == "config"


def test_routings_labelled_for_another_tenant_or_duplicated_are_skipped_with_warnings(tmp_path):
    from agents.services import registry_apply
    from agents.specs import parse_channel_routing

    tenant = Tenant.objects.create(tenant_id="acme")
    ours = parse_channel_routing(routing_doc("acme", "web"))
    theirs = parse_channel_routing(routing_doc("other", "web"))
    twice = parse_channel_routing(routing_doc("acme", "web", agents={"x": "X"}))

    counts = registry_apply(tenant=tenant, subset="stable", routings=[ours, theirs, twice], source="file")

    assert counts.added == 2 and len(counts.warnings) == 2
    assert list(Agent.objects.values_list("name", flat=True)) == ["billing-agent"]


def test_each_sync_is_counted_in_the_metrics(operator):
    from core.metrics import SYNC_RUNS

    def count(status: str) -> float:
        samples = [s for metric in SYNC_RUNS.collect() for s in metric.samples if s.name.endswith("_total")]
        return sum(s.value for s in samples if s.labels == {"source": "operator", "status": status})

    ok, failed = count("ok"), count("failed")
    sync(operator)
    operator.behaviours["*"] = Behaviour(status=500)
    sync(operator, timeout=0.3)

    assert (count("ok"), count("failed")) == (ok + 1, failed + 1)


def test_queued_sync_is_skipped_when_the_target_was_just_synced(operator, settings):
    from agents.services import registry_sync_tenant_if_due

    settings.AGENT_REGISTRY_URL = operator.url
    settings.REGISTRY_SOURCE = "operator"
    operator.put(routing_doc("acme", "web"))

    first = registry_sync_tenant_if_due(tenant_id="acme", subset="stable", min_age=30)
    duplicate = registry_sync_tenant_if_due(tenant_id="acme", subset="stable", min_age=30)
    due = registry_sync_tenant_if_due(tenant_id="acme", subset="stable", min_age=0)

    assert first.status == "ok" and duplicate is None and due.status == "ok"
    assert SyncRun.objects.count() == 2
