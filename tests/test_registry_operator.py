"""The operator source against a loopback LMOS Operator."""

from __future__ import annotations

import time

import pytest

from agents.sources import SourceError
from agents.sources.operator import OperatorSource
from tests.support.registry_fakes import Behaviour, FakeOperator, routing_doc


@pytest.fixture
def operator():
    fake = FakeOperator()
    yield fake
    fake.close()


def source(fake: FakeOperator, *, timeout: float = 3.0, namespace: str = "") -> OperatorSource:
    return OperatorSource(fake.url, timeout=timeout, namespace=namespace)


def test_fetch_lists_channels_then_reads_each_routing(operator):
    operator.put(routing_doc("acme", "web", agents={"billing-agent": "Bills", "contract-agent": "Contracts"}))
    operator.put(routing_doc("acme", "app"))
    operator.put(routing_doc("other", "web"))

    result = source(operator).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["app", "web"]
    web = result.routings[1]
    assert (web.tenant_id, web.subset, web.version, web.name) == ("acme", "stable", "1.0.0", "acme-web-stable")
    assert [a.name for a in web.agents] == ["billing-agent", "contract-agent"]
    assert web.agents[0].address == "billing-agent.default.svc.cluster.local"
    assert web.agents[0].capabilities[0].examples == ("help me with billing-agent",)
    assert result.warnings == [] and result.unreadable == set()
    assert operator.paths() == {
        "/apis/v1/tenants/acme/channels": 1,
        "/apis/v1/tenants/acme/channels/web/routing": 1,
        "/apis/v1/tenants/acme/channels/app/routing": 1,
    }


def test_requests_carry_subset_accept_and_namespace_headers(operator):
    operator.put(routing_doc("acme", "web", subset="canary"))

    result = source(operator, namespace="lmos").fetch(tenant_id="acme", subset="canary")

    assert [r.subset for r in result.routings] == ["canary"]
    for _, headers in operator.requests:
        assert headers["x-subset"] == "canary"
        assert headers["x-namespace"] == "lmos"
        assert headers["accept"] == "application/json"


def test_namespace_header_is_not_sent_when_lmos_namespace_is_unset(operator, settings):
    settings.LMOS_NAMESPACE = None
    operator.put(routing_doc("acme", "web"))

    OperatorSource(operator.url, timeout=3).fetch(tenant_id="acme", subset="stable")

    assert operator.requests and all("x-namespace" not in headers for _, headers in operator.requests)


def test_channel_without_routing_answers_404_and_is_skipped_quietly(operator):
    operator.put(routing_doc("acme", "web"))
    operator.put_channel_without_routing("acme", "voice")

    result = source(operator).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web"]
    assert result.warnings == [] and result.unreadable == set()


def test_unknown_tenant_has_no_channels(operator):
    result = source(operator).fetch(tenant_id="nobody", subset="stable")
    assert result.routings == [] and result.warnings == []


def test_transient_500_is_retried_with_backoff(operator):
    operator.put(routing_doc("acme", "web"))
    operator.behaviours[operator.channels_path("acme")] = Behaviour(status=500, body=b"oops", failures=2)
    operator.behaviours[operator.routing_path("acme", "web")] = Behaviour(status=503, failures=1)

    result = source(operator).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web"]
    assert operator.paths()[operator.channels_path("acme")] == 3
    assert operator.paths()[operator.routing_path("acme", "web")] == 2


def test_persistent_500_fails_within_the_total_budget(operator):
    operator.behaviours["*"] = Behaviour(status=500, body=b"down")

    started = time.monotonic()
    with pytest.raises(SourceError, match=r"within the 1 s budget.*HTTP 500"):
        source(operator, timeout=1.0).fetch(tenant_id="acme", subset="stable")
    elapsed = time.monotonic() - started

    assert 0.9 <= elapsed < 2.0
    assert operator.paths()[operator.channels_path("acme")] >= 3  # retried, not given up at once


def test_slow_operator_fails_within_the_total_budget(operator):
    operator.put(routing_doc("acme", "web"))
    operator.behaviours[operator.routing_path("acme", "web")] = Behaviour(delay=5.0)

    started = time.monotonic()
    with pytest.raises(SourceError, match="did not answer"):
        source(operator, timeout=0.8).fetch(tenant_id="acme", subset="stable")

    assert time.monotonic() - started < 1.8


def test_slow_routing_among_many_does_not_exceed_the_budget(operator):
    for index in range(20):
        operator.put(routing_doc("acme", f"c{index}"))
    operator.behaviours[operator.routing_path("acme", "c7")] = Behaviour(delay=3.0)

    started = time.monotonic()
    with pytest.raises(SourceError):
        source(operator, timeout=1.0).fetch(tenant_id="acme", subset="stable")

    assert time.monotonic() - started < 2.0


def test_refused_connection_fails_within_the_budget():
    fake = FakeOperator()
    url = fake.url
    fake.close()

    started = time.monotonic()
    with pytest.raises(SourceError, match="ConnectError"):
        OperatorSource(url, timeout=0.7, namespace="").fetch(tenant_id="acme", subset="stable")

    assert time.monotonic() - started < 1.7


def test_url_without_scheme_fails_at_once():
    started = time.monotonic()
    with pytest.raises(SourceError, match="AGENT_REGISTRY_URL"):
        OperatorSource("lmos-operator:8080", timeout=5).fetch(tenant_id="acme", subset="stable")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>proxy error</html>", "did not answer JSON"),
        (b'{"items": []}', "expected a JSON array of channels, got dict"),
        (b"", "did not answer JSON"),
    ],
)
def test_malformed_channel_list_fails_the_fetch(operator, body, message):
    operator.behaviours[operator.channels_path("acme")] = Behaviour(status=200, body=body)

    with pytest.raises(SourceError, match=message):
        source(operator).fetch(tenant_id="acme", subset="stable")


def test_forbidden_is_not_retried_and_fails_the_fetch(operator):
    operator.behaviours[operator.channels_path("acme")] = Behaviour(status=403, body=b'{"error": "forbidden"}')

    with pytest.raises(SourceError, match="HTTP 403"):
        source(operator).fetch(tenant_id="acme", subset="stable")

    assert operator.paths()[operator.channels_path("acme")] == 1


def test_channel_list_entries_without_a_channel_label_are_skipped_with_a_warning(operator):
    operator.put(routing_doc("acme", "web"))
    body = b'[{"metadata": {"name": "broken", "labels": {"tenant": "acme"}}}, 42, ' + (
        b'{"metadata": {"labels": {"channel": "web"}}}]'
    )
    operator.behaviours[operator.channels_path("acme")] = Behaviour(status=200, body=body)

    result = source(operator).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web"]
    assert len(result.warnings) == 2
    assert "channels[0] (broken): metadata.labels.channel is missing" in result.warnings[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "the routing is not JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"metadata": {"labels": {}}, "spec": {"capabilityGroups": [{"description": "x"}]}}', "has no name"),
        (
            b'{"spec": {"capabilityGroups": [{"name": "a", "capabilities": [{"name": "c"}]}]}}',
            "has no capability with a host",
        ),
    ],
)
def test_malformed_routing_is_a_warning_and_the_channel_is_kept_not_dropped(operator, body, message):
    operator.put(routing_doc("acme", "web"))
    operator.put(routing_doc("acme", "app"))
    operator.behaviours[operator.routing_path("acme", "app")] = Behaviour(status=200, body=body)

    result = source(operator).fetch(tenant_id="acme", subset="stable")

    assert [r.channel_id for r in result.routings] == ["web"]
    assert result.unreadable == {"app"}
    assert len(result.warnings) == 1 and message in result.warnings[0] and "'app'" in result.warnings[0]


def test_lenient_parsing_accepts_missing_ids_numbers_and_extra_fields(operator):
    routing = routing_doc("acme", "web", examples=False)
    routing["metadata"]["labels"]["version"] = 2
    group = routing["spec"]["capabilityGroups"][0]
    del group["id"]
    group["extra"] = {"anything": True}
    group["capabilities"][0]["providedVersion"] = 1.1
    del group["capabilities"][0]["id"]
    operator.put(routing)

    result = source(operator).fetch(tenant_id="acme", subset="stable")

    (agent,) = result.routings[0].agents
    assert result.routings[0].version == "2"
    assert agent.id == "" and agent.capabilities[0].provided_version == "1.1"
    assert agent.capabilities[0].examples == ()
