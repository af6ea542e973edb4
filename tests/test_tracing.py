"""OpenTelemetry traces through the real chat API and agent (the SDK's in-memory exporter),
the registry sync's span, the OTLP exporter against a small real HTTP collector, and tracing
staying off (and out of the way) unless the environment asks for it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core import tracing
from tests.support import agents
from tests.test_chat_api import body, post, registry, url

ROOT = Path(__file__).resolve().parent.parent
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
QUERY = "Why is my bill so high this month, secret-word-4711?"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.setup(exporter)
    yield exporter
    tracing.shutdown()


def by_name(finished) -> dict[str, list]:
    named: dict[str, list] = {}
    for span in finished:
        named.setdefault(span.name, []).append(span)
    return named


def test_tracing_is_off_unless_the_environment_asks(monkeypatch):
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.wanted() and not tracing.setup() and not tracing.enabled()
    assert tracing.span("turn", tenant="acme") is tracing.span("routing"), "one shared no-op when off"
    assert tracing.traceparent("00-client") == "00-client", "off: the client's header passes through"
    assert tracing.remote_parent(f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01") is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing.wanted()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not tracing.wanted()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert tracing.wanted()


def test_a_bad_exporter_setting_stops_start_up_naming_the_variable():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "lmos_runtime.settings", "OTEL_TRACES_EXPORTER": "zipkin"}
    result = subprocess.run(
        [sys.executable, "-c", "import lmos_runtime"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "OTEL_TRACES_EXPORTER='zipkin'" in result.stderr


@pytest.mark.django_db(transaction=True)
async def test_a_turn_continues_the_clients_trace_and_hands_its_context_to_the_agent(arc_agent, spans):
    agent = await arc_agent(agents.echo("billing says: "))
    await registry({"billing-agent": agent.address}, fallback="billing-agent")
    response = await post(
        url(), body(QUERY), turn="traced-1", headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}
    )
    assert response.status_code == 200, response.content
    named = by_name(spans.get_finished_spans())
    (turn,) = named["turn"]
    (routing,) = named["routing"]
    (call,) = named["agent.call"]
    assert f"{turn.context.trace_id:032x}" == CLIENT_TRACE, "the client's trace continues"
    assert f"{turn.parent.span_id:016x}" == CLIENT_SPAN
    assert routing.parent.span_id == turn.context.span_id and call.parent.span_id == turn.context.span_id
    assert turn.attributes["lmos.tenant"] == "acme" and turn.attributes["lmos.channel"] == "web"
    assert turn.attributes["lmos.conversation_id"] == "conv-1" and turn.attributes["lmos.turn_id"] == "traced-1"
    assert turn.attributes["lmos.agent"] == "billing-agent" and turn.attributes["lmos.status"] == "ok"
    assert turn.attributes["lmos.strategy"] == routing.attributes["lmos.strategy"]
    assert routing.attributes["lmos.confidence"] == 1.0, "the only agent of the channel"
    assert call.attributes["lmos.agent"] == "billing-agent" and call.attributes["lmos.messages"] == 1
    store = [s for name, group in named.items() if name.startswith("turn_store.") for s in group]
    assert store, f"no turn store spans among {sorted(named)}"
    assert all(s.context.trace_id == turn.context.trace_id for s in store)

    headers, _ = agent.received[-1]
    _, trace_id, parent_id, _ = headers["traceparent"].split("-")
    assert trace_id == CLIENT_TRACE and parent_id == f"{call.context.span_id:016x}", "the agent hangs from the call"

    everything = json.dumps(
        [
            {"name": s.name, "attributes": dict(s.attributes), "events": [e.name for e in s.events]}
            for s in spans.get_finished_spans()
        ]
    )
    assert "secret-word-4711" not in everything and "billing says" not in everything, "no message content in spans"


@pytest.mark.django_db(transaction=True)
async def test_a_failed_turn_is_an_error_span_with_the_error_code(arc_agent, spans):
    from tests.conftest import free_port

    await registry({"billing-agent": f"127.0.0.1:{free_port()}"}, fallback="billing-agent")
    response = await post(url(), body(QUERY), turn="traced-2")
    assert response.status_code == 502
    named = by_name(spans.get_finished_spans())
    (turn,) = named["turn"]
    (call,) = named["agent.call"]
    assert turn.attributes["lmos.status"] == "AGENT_CLIENT_EXCEPTION" and turn.status.status_code.name == "ERROR"
    assert call.status.status_code.name == "ERROR"
    assert turn.parent is None, "without a client traceparent the turn starts a trace"
    assert not any(event.name == "exception" for span in named["turn"] + named["agent.call"] for event in span.events)


@pytest.mark.django_db
def test_the_registry_sync_of_a_tenant_is_a_span(tmp_path, settings, spans):
    from agents.services import registry_sync_tenant

    (tmp_path / "registry.yaml").write_text(
        "channelRoutings:\n  - metadata: {labels: {tenant: acme, channel: web, subset: stable}}\n"
        "    spec: {capabilityGroups: [{name: billing-agent, capabilities: [{name: bill, host: 'b:8080'}]}]}\n"
    )
    settings.REGISTRY_SOURCE, settings.AGENT_REGISTRY_FILE = "file", str(tmp_path / "registry.yaml")
    run = registry_sync_tenant(tenant_id="acme", subset="stable")
    (sync,) = by_name(spans.get_finished_spans())["registry.sync"]
    assert sync.attributes["lmos.tenant"] == "acme" and sync.attributes["lmos.subset"] == "stable"
    assert sync.attributes["lmos.status"] == run.status == "ok" and sync.attributes["lmos.source"] == "file"


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], data))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_spans_are_exported_over_otlp_http_to_the_configured_endpoint(monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "lmos-runtime-test")
    try:
        assert tracing.setup()
        with tracing.span("turn", tenant="acme"):
            pass
        tracing.shutdown()  # flushes the batch
    finally:
        server.shutdown()
    ((path, content_type, data),) = _Collector.received
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(data)
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    assert service == "lmos-runtime-test"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["turn"]
