"""`GET .../agents`: the registry listing, with the API-key rules of the chat endpoints."""

from __future__ import annotations

import pytest
from django.test import Client

from agents.models import ApiKey, Tenant
from tests.factories import make_registry

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_lists_the_agents_of_the_channel():
    make_registry(agents={"billing-agent": "b:1", "contracts-agent": "c:1"})
    for prefix in ("/apis/v1", "/lmos/runtime/apis/v1"):
        response = Client().get(f"{prefix}/agents", {"tenantId": "acme", "channelId": "web"})
        assert response.status_code == 200
        data = response.json()
        assert data["subset"] == "stable"
        assert [agent["name"] for agent in data["agents"]] == ["billing-agent", "contracts-agent"]


def test_it_validates_ids_and_the_method():
    assert Client().get("/apis/v1/agents").json()["errorCode"] == "INVALID_REQUEST"
    assert Client().get("/apis/v1/agents", {"tenantId": "a/b"}).status_code == 400
    response = Client().post("/apis/v1/agents?tenantId=acme")
    assert (response.status_code, response["Allow"]) == (405, "GET")


def test_with_keys_required_it_takes_the_tenants_key_or_an_admin_session(settings, admin_client):
    settings.REQUIRE_API_KEYS = True
    make_registry(agents={"billing-agent": "b:1"})
    _, own = ApiKey.generate(tenant=Tenant.objects.get(tenant_id="acme"))
    _, other = ApiKey.generate(tenant=Tenant.objects.create(tenant_id="other"))
    url = "/apis/v1/agents?tenantId=acme"
    assert Client().get(url).status_code == 401
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 403
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {own}").status_code == 200
    assert admin_client.get(url).json()["agents"][0]["name"] == "billing-agent"
