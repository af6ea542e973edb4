"""The OpenAPI schema is valid, and the running API keeps to it (schemathesis fuzzing)."""

from __future__ import annotations

import pytest
import schemathesis
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

SCHEMA = SchemaGenerator(urlconf="conversations.schema_urls").get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA)
# Text fields reject NUL characters (PostgreSQL cannot store them): a documented 400.
schema.config.generation.update(allow_x00=False, database="none", deterministic=True)


def test_openapi_schema_is_valid_and_served():
    validate(SCHEMA)
    paths = set(SCHEMA["paths"])
    for prefix in ("/lmos/runtime/apis/v1", "/apis/v1"):
        assert f"{prefix}/{{tenantId}}/chat/{{conversationId}}/message" in paths
        assert f"{prefix}/{{tenantId}}/chat/{{conversationId}}/stream" in paths
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
