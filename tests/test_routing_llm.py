"""The LLM and hybrid routers against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import AgentNotFound
from routing.services import route_query
from routing.strategies.llm import LLM_CONFIDENCE, LlmUnavailable, parse_answer
from tests.test_routing_vector import request_for, small_registry


class FakeLLM:
    """/v1/chat/completions answering from a script: each entry is the content to send,
    or ("status", code) / ("sleep", seconds)."""

    def __init__(self) -> None:
        self.script: list = []
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                step = fake.script.pop(0) if fake.script else '{"agentName": null, "reason": "script empty"}'
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = '{"agentName": null, "reason": "too late"}'
                if isinstance(step, tuple) and step[0] == "status":
                    payload = json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()
                    self.send_response(step[1])
                else:
                    payload = json.dumps(
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body.get("model", "m"),
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": step}, "finish_reason": "stop"}
                            ],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        }
                    ).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm(settings):
    fake = FakeLLM()
    settings.OPENAI_API_URL = fake.url
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_API_MODEL = "test-model"
    settings.OPENAI_API_TIMEOUT = 2.0
    settings.OPENAI_API_FORMAT = "json_object"
    settings.CLARIFICATION_ENABLED = False
    yield fake
    fake.close()


async def test_llm_good_json_chooses_the_named_agent(llm):
    llm.script = ['{"agentName": "billing-agent", "reason": "a question about a bill"}']
    decision = await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert (decision.strategy, decision.agent) == ("llm", "billing-agent")
    assert "a question about a bill" in decision.reason
    sent = llm.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer test-key"
    assert sent["body"]["model"] == "test-model"
    assert sent["body"]["response_format"] == {"type": "json_object"}
    system = sent["body"]["messages"][0]["content"]
    assert "billing-agent" in system and "recover-password" in system


async def test_llm_prompt_includes_the_conversation_history(llm):
    llm.script = ['{"agentName": "order-agent", "reason": "continues the order"}']
    request = request_for("yes please", previous="I want to buy a new phone", current_agent="order-agent")
    decision = await route_query(request=request, router_type="llm")
    assert decision.agent == "order-agent"
    assert "I want to buy a new phone" in llm.requests[0]["body"]["messages"][1]["content"]


async def test_llm_text_format_sends_no_response_format(llm, settings):
    settings.OPENAI_API_FORMAT = "text"
    llm.script = ['{"agentName": "billing-agent", "reason": "r"}']
    await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert "response_format" not in llm.requests[0]["body"]


async def test_llm_fenced_json_is_accepted(llm):
    llm.script = ['Sure!\n```json\n{"agentName": "account-agent", "reason": "password"}\n```']
    decision = await route_query(request=request_for("I forgot my password"), router_type="llm")
    assert decision.agent == "account-agent"


async def test_llm_unknown_agent_name_is_retried_once_then_no_agent(llm):
    llm.script = ['{"agentName": "ghost-agent", "reason": "?"}', '{"agentName": "ghost-agent", "reason": "?"}']
    with pytest.raises(AgentNotFound, match="no valid answer"):
        await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert len(llm.requests) == 2
    assert "not valid" in llm.requests[1]["body"]["messages"][-1]["content"]


async def test_llm_garbage_then_good_answer_routes_after_one_retry(llm):
    llm.script = ["I think billing?", '{"agentName": "billing-agent", "reason": "bill"}']
    decision = await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert decision.agent == "billing-agent"
    assert len(llm.requests) == 2


async def test_llm_garbage_twice_is_no_agent_and_uses_the_fallback_agent(llm):
    llm.script = ["garbage", "more garbage"]
    registry = small_registry(fallback_agent="order-agent")
    decision = await route_query(request=request_for("why is my bill so high", registry), router_type="llm")
    assert (decision.strategy, decision.agent) == ("fallback", "order-agent")


async def test_llm_null_agent_means_no_agent(llm):
    llm.script = ['{"agentName": null, "reason": "nothing fits"}']
    with pytest.raises(AgentNotFound, match="nothing fits"):
        await route_query(request=request_for("tell me a joke"), router_type="llm")


async def test_llm_http_500_is_agent_not_found_saying_the_llm_is_unavailable(llm):
    llm.script = [("status", 500)]
    with pytest.raises(AgentNotFound, match="LLM router is unavailable"):
        await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert len(llm.requests) == 1  # no retries of a failed endpoint inside a turn


async def test_llm_timeout_is_agent_not_found_within_the_timeout(llm, settings):
    settings.OPENAI_API_TIMEOUT = 0.3
    llm.script = [("sleep", 1.5)]
    started = time.perf_counter()
    with pytest.raises(AgentNotFound, match="LLM router is unavailable"):
        await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert time.perf_counter() - started < 1.2


async def test_llm_unreachable_raises_llm_unavailable(settings):
    from routing.strategies.llm import LlmStrategy
    from tests.conftest import free_port

    settings.OPENAI_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    settings.OPENAI_API_TIMEOUT = 1.0
    with pytest.raises(LlmUnavailable):
        await LlmStrategy().decide(request_for("why is my bill so high"))


async def test_llm_down_with_clarification_enabled_uses_the_template(llm, settings):
    settings.CLARIFICATION_ENABLED = True
    llm.script = [("status", 503), ("status", 503)]
    decision = await route_query(request=request_for("why is my bill so high"), router_type="llm")
    assert decision.strategy == "clarification"
    assert "I can help with" in decision.clarification
    assert decision.fallback is True


async def test_clarification_is_asked_by_the_llm_when_configured(llm, settings):
    settings.CLARIFICATION_ENABLED = True
    llm.script = ["Do you need help with a bill, an order or your account?"]
    decision = await route_query(request=request_for("who won the football match yesterday"), router_type="vector")
    assert decision.strategy == "clarification"
    assert decision.clarification == "Do you need help with a bill, an order or your account?"


async def test_hybrid_is_decided_by_vector_when_sure_without_calling_the_llm(llm, settings):
    settings.ROUTER_HYBRID_CONFIDENCE = 0.0  # every vector decision is sure
    decision = await route_query(request=request_for("I forgot my password"), router_type="hybrid")
    assert (decision.strategy, decision.agent) == ("hybrid", "account-agent")
    assert decision.confidence is not None
    assert llm.requests == []


async def test_hybrid_keeps_a_sure_no_agent_decision_without_calling_the_llm(llm, settings):
    settings.ROUTER_HYBRID_CONFIDENCE = 0.0
    settings.CLARIFICATION_ENABLED = False
    registry = small_registry(vector_threshold=1.01)  # nothing clears it: the vector router finds no agent
    with pytest.raises(AgentNotFound) as caught:
        await route_query(request=request_for("why is my bill so high", registry), router_type="hybrid")
    assert caught.value.decision.strategy == "hybrid"
    assert llm.requests == []


async def test_hybrid_asks_the_llm_among_the_top_candidates_when_unsure(llm, settings):
    settings.ROUTER_HYBRID_CONFIDENCE = 1.01  # above any confidence: no vector decision is sure
    registry = small_registry(vector_margin=0.9)
    llm.script = ['{"agentName": "billing-agent", "reason": "bill"}']
    decision = await route_query(request=request_for("why is my bill so high", registry), router_type="hybrid")
    assert (decision.strategy, decision.agent, decision.fallback) == ("hybrid", "billing-agent", False)
    assert decision.confidence == LLM_CONFIDENCE
    system = llm.requests[0]["body"]["messages"][0]["content"]
    assert system.count("-agent:") == settings.ROUTER_HYBRID_CANDIDATES


async def test_hybrid_falls_back_to_the_vector_answer_when_the_llm_is_down(llm, settings):
    settings.ROUTER_HYBRID_CONFIDENCE = 1.01
    llm.script = [("status", 500)]
    decision = await route_query(request=request_for("why is my bill so high"), router_type="hybrid")
    assert (decision.agent, decision.fallback) == ("billing-agent", True)
    assert "LLM unavailable" in decision.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"agentName": "a", "reason": "r"}', ("a", "r")),
        ('```json\n{"agentName": "a", "reason": "r"}\n```', ("a", "r")),
        ('{"agentName": null, "reason": "none"}', (None, "none")),
        ('{"agentName": "b", "reason": "r"}', None),
        ('{"reason": "r"}', None),
        ("not json", None),
        ("", None),
    ],
)
def test_parse_answer(text, expected):
    assert parse_answer(text, {"a"}) == expected
