"""The LMOS chat request, validated leniently where LMOS is lenient.

`contextParams` may be a list of {key, value} or a JSON object; `format` defaults to
"text"; unknown fields are ignored.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.ids import ID_PATTERN

ROLES = ("user", "assistant", "system")


def id_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(
        ID_PATTERN,
        max_length=128,
        error_messages={"invalid": "must be 1-128 characters of A-Z a-z 0-9 . _ : @ -"},
        **kwargs,
    )


# Text the server refuses: NUL characters (PostgreSQL cannot store them), as DRF's text fields.
NO_NUL = "^[^\\u0000]*$"


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {"type": "string", "pattern": NO_NUL},
                        "value": {"type": "string", "pattern": NO_NUL},
                    },
                    "required": ["key"],
                },
            },
            {
                "type": "object",
                "description": "Keys must not contain NUL characters.",
                "additionalProperties": {"anyOf": [{"not": {"type": "string"}}, {"type": "string", "pattern": NO_NUL}]},
            },
        ]
    }
)
class ContextParamsField(serializers.Field):
    """[{key, value}] or {key: value} → [{"key": str, "value": str}]."""

    default_error_messages = {
        "invalid": "must be a list of {{key, value}} or a JSON object",
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data: Any) -> list[dict[str, str]]:
        if data is None:
            return []
        if isinstance(data, dict):
            items = [{"key": k, "value": v} for k, v in data.items()]
        elif isinstance(data, list):
            items = data
        else:
            self.fail("invalid")
        result = []
        for item in items:
            if not isinstance(item, dict) or "key" not in item:
                self.fail("invalid")
            value = item.get("value")
            if value is not None and not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False)
            entry = {"key": str(item["key"]), "value": "" if value is None else value}
            if "\x00" in entry["key"] or "\x00" in entry["value"]:
                self.fail("null_characters")
            result.append(entry)
        return result

    def to_representation(self, value: Any) -> Any:
        return value


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=ROLES, error_messages={"invalid_choice": "must be user, assistant or system"}
    )
    content = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=settings.MAX_MESSAGE_CHARS)
    format = serializers.CharField(
        required=False, default="text", allow_blank=True, trim_whitespace=False, max_length=64
    )
    turnId = serializers.CharField(required=False, allow_null=True, max_length=128)

    def validate_content(self, value: str) -> str:
        if len(value) > settings.MAX_MESSAGE_CHARS:
            raise serializers.ValidationError(f"is longer than {settings.MAX_MESSAGE_CHARS} characters")
        return value


class AnonymizationEntitySerializer(serializers.Serializer):
    type = serializers.CharField(allow_blank=True, trim_whitespace=False)
    value = serializers.CharField(allow_blank=True, trim_whitespace=False)
    replacement = serializers.CharField(allow_blank=True, trim_whitespace=False)


class InputContextSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, allow_empty=False, min_length=1, max_length=settings.MAX_MESSAGES)
    explicitAgent = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, max_length=253
    )
    anonymizationEntities = AnonymizationEntitySerializer(many=True, required=False, allow_null=True)

    def validate_messages(self, value: list[dict]) -> list[dict]:
        if any(item is None for item in value):
            raise serializers.ValidationError("messages must be objects, not null")
        # Checked here too (not only by max_length) so that a changed setting applies at once.
        if len(value) > settings.MAX_MESSAGES:
            raise serializers.ValidationError(f"at most {settings.MAX_MESSAGES} messages are accepted")
        return value

    def validate_anonymizationEntities(self, value: list[dict] | None) -> list[dict] | None:
        if value is not None and any(item is None for item in value):
            raise serializers.ValidationError("entries must be objects, not null")
        return value


class SystemContextSerializer(serializers.Serializer):
    channelId = id_field()
    contextParams = ContextParamsField(required=False, default=list)


class UserContextSerializer(serializers.Serializer):
    userId = serializers.CharField(max_length=256, allow_blank=False, trim_whitespace=False)
    userToken = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, max_length=16384
    )
    contextParams = ContextParamsField(required=False, default=list)


class ChatRequestSerializer(serializers.Serializer):
    inputContext = InputContextSerializer()
    systemContext = SystemContextSerializer()
    userContext = UserContextSerializer()


class ChatResponseSerializer(serializers.Serializer):
    content = serializers.CharField()
    anonymizationEntities = AnonymizationEntitySerializer(many=True, allow_null=True)


class TurnSerializer(serializers.Serializer):
    turnId = serializers.CharField()
    createdAt = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=["pending", "completed", "failed", "cancelled"])
    agent = serializers.CharField(allow_null=True)
    routingStrategy = serializers.CharField(allow_null=True)
    messages = serializers.ListField(child=serializers.DictField())
    answer = ChatResponseSerializer(allow_null=True)
    errorCode = serializers.CharField(allow_null=True)


class ConversationHistorySerializer(serializers.Serializer):
    tenantId = serializers.CharField()
    conversationId = serializers.CharField()
    channelId = serializers.CharField()
    subset = serializers.CharField()
    turns = TurnSerializer(many=True)


class CandidateSerializer(serializers.Serializer):
    agent = serializers.CharField()
    score = serializers.FloatField()


class RouteDecisionSerializer(serializers.Serializer):
    agent = serializers.CharField(allow_null=True)
    strategy = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    candidates = CandidateSerializer(many=True)
