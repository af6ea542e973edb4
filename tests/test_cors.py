"""CORS as LMOS has it: off by default; when on, only the configured origins."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

CHAT = "/lmos/runtime/apis/v1/acme/chat/c1/message"


def preflight(client: Client, origin: str):
    return client.options(
        CHAT,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-turn-id",
    )


def test_cors_is_off_by_default():
    response = preflight(Client(), "https://app.example")
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_the_configured_origins(settings):
    settings.CORS_URLS_REGEX = r"^/(lmos/runtime/)?apis/.*$"
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    settings.CORS_ALLOW_HEADERS = ["content-type", "authorization", "x-turn-id", "x-subset", "traceparent"]
    settings.CORS_EXPOSE_HEADERS = ["x-agent-name", "x-routing-strategy", "x-turn-id"]
    allowed = preflight(Client(), "https://app.example")
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-turn-id" in allowed.headers["access-control-allow-headers"]
    denied = preflight(Client(), "https://evil.example")
    assert "access-control-allow-origin" not in denied.headers
    admin = Client().options("/admin/", HTTP_ORIGIN="https://app.example")
    assert "access-control-allow-origin" not in admin.headers
