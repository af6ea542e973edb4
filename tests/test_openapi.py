"""The OpenAPI schema is valid, and the running API keeps to it (schemathesis fuzzing)."""

from __future__ import annotations

import pytest
import schemathesis
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

from core.api import SCHEMA_URLCONF

SCHEMA = SchemaGenerator(urlconf=SCHEMA_URLCONF).get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.config.generation.update(database="none", deterministic=True)


def test_openapi_schema_is_valid_and_served():
    validate(SCHEMA)
    paths = set(SCHEMA["paths"])
    for prefix in ("/lmos/runtime/apis/v1", "/apis/v1"):
        assert f"{prefix}/{{tenantId}}/chat/{{conversationId}}/message" in paths
        assert f"{prefix}/{{tenantId}}/chat/{{conversationId}}/stream" in paths
        assert f"{prefix}/{{tenantId}}/route" in paths
    response = Client().get("/apis/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    docs = Client().get("/apis/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


@pytest.fixture(scope="module")
def fuzz_base_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """One daphne for the whole module, on the test database, with an empty file registry
    (no operator to call)."""
    from tests.conftest import start_daphne, stop_processes, subprocess_env

    registry = tmp_path_factory.mktemp("fuzz") / "registry.yaml"
    registry.write_text("channelRoutings: []\n")
    env = subprocess_env()
    env.update(REGISTRY_SOURCE="file", AGENT_REGISTRY_FILE=str(registry), LOG_LEVEL="ERROR")
    process, base = start_daphne(env)
    yield base
    stop_processes(process)


@pytest.mark.django_db(transaction=True)
# Both prefixes route to the same views: fuzz one of them.
@schema.include(path_regex="^/apis/v1/").parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_5xx_and_errors_match_the_schema(case, fuzz_base_url):
    case.call_and_validate(base_url=fuzz_base_url)


@pytest.mark.django_db
def test_nul_characters_are_refused_as_the_schema_says_with_one_clean_message():
    import re

    message = SCHEMA["components"]["schemas"]["MessageRequest"]["properties"]["content"]
    assert re.fullmatch(message["pattern"], "a\x00b") is None and re.fullmatch(message["pattern"], "a b")
    messages = [{"role": "user", "content": "fine"} for _ in range(5)]
    messages[3]["content"] = "bad\x00"
    body = {
        "inputContext": {"messages": messages},
        "systemContext": {"channelId": "web"},
        "userContext": {"userId": "u"},
    }
    response = Client().post(
        "/apis/v1/acme/chat/c-1/message", body, content_type="application/json", HTTP_X_TURN_ID="t-1"
    )
    assert response.status_code == 400
    assert response.json() == {
        "errorCode": "INVALID_REQUEST",
        "message": "inputContext.messages[3].content: Null characters are not allowed.",
    }
    body["inputContext"]["messages"][3]["content"] = "fine"
    body["systemContext"]["contextParams"] = {"key\x00": "value"}
    response = Client().post(
        "/apis/v1/acme/chat/c-1/message", body, content_type="application/json", HTTP_X_TURN_ID="t-1"
    )
    assert response.json()["message"] == "systemContext.contextParams: Null characters are not allowed."
