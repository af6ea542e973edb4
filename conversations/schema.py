"""What the chat endpoints share in the OpenAPI schema (their headers and error table), and
the schema post-processing that states constraints drf-spectacular does not emit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from conversations.serializers import NO_NUL
from core.api import AUTH, error
from core.ids import ID_PATTERN

CHAT_HEADERS = [
    OpenApiParameter(
        "x-turn-id",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        pattern=ID_PATTERN,
        description="Identifies the turn; a retry with the same id and body is answered from storage",
    ),
    OpenApiParameter(
        "x-subset", OpenApiTypes.STR, OpenApiParameter.HEADER, pattern=ID_PATTERN, description="Default: stable"
    ),
    AUTH,
]
CHAT_ERRORS = {
    400: error("Invalid request (bad JSON, missing field or header, bad role or id, too many messages)"),
    401: error("Missing or unknown API key (when keys are required)"),
    403: error("API key of another tenant"),
    404: error("No routing for tenant/channel/subset, no agent fits, or unknown explicit agent"),
    409: error("Same x-turn-id sent before with a different body"),
    413: error("Body larger than MAX_REQUEST_BYTES"),
    415: error("Content-Type is not JSON"),
    429: error("Rate limit (RATE_LIMIT_PER_MINUTE) reached"),
    502: error("The agent failed (unreachable, error frame, protocol error)"),
    503: error("Registry unavailable, or too many turns in flight"),
    504: error("The agent did not answer within AGENT_TIMEOUT"),
}


def constraints_hook(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular emits neither the messages' length limits nor DRF's NUL rule: the text
    fields refuse NUL characters (a 400), stated as a pattern on every request string that
    has no pattern of its own."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if not name.endswith("Request"):
            continue
        for prop in schema.get("properties", {}).values():
            if prop.get("type") == "string" and not {"pattern", "enum", "format"} & prop.keys():
                prop["pattern"] = NO_NUL
    messages = schemas.get("InputContextRequest", {}).get("properties", {}).get("messages")
    if messages is not None:
        messages.update(minItems=1, maxItems=settings.MAX_MESSAGES)
    return result
