"""The kubernetes source, with the official client pointed (by a kubeconfig) at a loopback
server answering the custom-objects API paths it calls."""

from __future__ import annotations

import time

import pytest

from agents.models import Agent, Capability
from agents.services import registry_sync_targets, registry_sync_tenant
from agents.sources import SourceError
from agents.sources.kubernetes import KubernetesSource
from tests.support.registry_fakes import Behaviour, FakeKubernetes, agent_doc, routing_doc

# The kubernetes client itself uses a urllib3 API that is deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:HTTPResponse.getheaders:DeprecationWarning")

ROUTINGS = "/apis/lmos.eclipse/v1/namespaces/default/channelroutings"
AGENTS = "/apis/lmos.eclipse/v1/namespaces/default/agents"


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    fake = FakeKubernetes()
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path)))
    yield fake
    fake.close()


def test_channel_routings_are_listed_by_tenant_and_subset_labels(cluster, settings):
    settings.LMOS_NAMESPACE = None
    cluster.add("channelroutings", routing_doc("acme", "web"))
    cluster.add("channelroutings", routing_doc("acme", "app", agents={"app-agent": "App"}))
    cluster.add("channelroutings", routing_doc("acme", "web", subset="canary"))
    cluster.add("channelroutings", routing_doc("other", "web"))
    cluster.add("channelroutings", routing_doc("acme", "elsewhere"), namespace="lmos")

    result = KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["app", "web"]
    assert result.routings[1].agents[0].address == "billing-agent.default.svc.cluster.local"
    path, headers = cluster.requests[0]
    assert path.startswith(ROUTINGS) and "labelSelector=tenant%3Dacme%2Csubset%3Dstable" in path
    assert headers["authorization"] == f"Bearer {FakeKubernetes.TOKEN}"
    assert not any(p.startswith(AGENTS) for p, _ in cluster.requests)  # every capability had examples


def test_namespace_comes_from_lmos_namespace(cluster, settings):
    settings.LMOS_NAMESPACE = "lmos"
    cluster.add("channelroutings", routing_doc("acme", "elsewhere"), namespace="lmos")

    result = KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["elsewhere"]


def test_agent_objects_supply_missing_capability_examples(cluster):
    cluster.add("channelroutings", routing_doc("acme", "web", examples=False))
    cluster.add("agents", agent_doc("billing-agent", {"billing-agent-cap": ["why is my bill so high", "Rechnung"]}))
    cluster.add("agents", agent_doc("unrelated", {"x": ["y"]}))

    result = KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")

    cap = result.routings[0].agents[0].capabilities[0]
    assert cap.examples == ("why is my bill so high", "Rechnung")


def test_unreadable_agent_objects_only_warn(cluster):
    cluster.add("channelroutings", routing_doc("acme", "web", examples=False))
    cluster.behaviours[AGENTS] = Behaviour(status=403, body=b'{"kind": "Status", "code": 403}')

    result = KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web"]
    assert len(result.warnings) == 1 and "HTTP 403" in result.warnings[0]


def test_unusable_routing_object_is_a_warning_and_its_channel_is_kept(cluster):
    cluster.add("channelroutings", routing_doc("acme", "web"))
    broken = routing_doc("acme", "app")
    broken["spec"]["capabilityGroups"] = "nonsense"
    cluster.add("channelroutings", broken)

    result = KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web"]
    assert result.unreadable == {"app"} and "capabilityGroups must be a list" in result.warnings[0]


def test_forbidden_list_fails_at_once(cluster):
    cluster.behaviours[ROUTINGS] = Behaviour(status=403, body=b'{"kind": "Status", "code": 403}')

    with pytest.raises(SourceError, match="HTTP 403"):
        KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")
    assert len(cluster.requests) == 1


def test_server_errors_are_retried_within_the_budget(cluster):
    cluster.add("channelroutings", routing_doc("acme", "web"))
    cluster.behaviours[ROUTINGS] = Behaviour(status=500, failures=2)

    result = KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")
    assert [r.channel_id for r in result.routings] == ["web"]

    cluster.behaviours[ROUTINGS] = Behaviour(status=500)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"within the 0\.6 s budget"):
        KubernetesSource(timeout=0.6).fetch(tenant_id="acme", subset="stable")
    assert time.monotonic() - started < 1.6


def test_slow_api_server_fails_within_the_budget(cluster):
    cluster.behaviours[ROUTINGS] = Behaviour(delay=5)

    started = time.monotonic()
    with pytest.raises(SourceError):
        KubernetesSource(timeout=0.7).fetch(tenant_id="acme", subset="stable")
    assert time.monotonic() - started < 1.7


def test_garbage_answer_is_a_source_error(cluster):
    cluster.behaviours[ROUTINGS] = Behaviour(status=200, body=b"<html>not the API</html>")

    with pytest.raises(SourceError, match="not a list of items"):
        KubernetesSource(timeout=3).fetch(tenant_id="acme", subset="stable")


def test_missing_configuration_is_a_source_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))

    with pytest.raises(SourceError, match="no usable Kubernetes configuration"):
        KubernetesSource(timeout=1).fetch(tenant_id="acme", subset="stable")


@pytest.mark.django_db
def test_sync_from_the_cluster_discovers_tenants_and_stores_examples(cluster, settings):
    settings.LMOS_TENANTS = []
    cluster.add("channelroutings", routing_doc("acme", "web", examples=False))
    cluster.add("channelroutings", routing_doc("globex", "web", subset="canary"))
    cluster.add("agents", agent_doc("billing-agent", {"billing-agent-cap": ["show my bill"]}))
    source = KubernetesSource(timeout=3)

    assert registry_sync_targets(source=source) == [("acme", "stable"), ("globex", "canary")]
    run = registry_sync_tenant(tenant_id="acme", subset="stable", source=source)

    assert (run.status, run.source, run.added) == ("ok", "kubernetes", 2)
    assert Agent.objects.get().source == "kubernetes"
    assert Capability.objects.get().examples == ["show my bill"]
