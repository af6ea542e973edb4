"""The registry endpoint: `GET .../agents?tenantId=&channelId=&subset=`, what is installed."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from agents.auth import api_key_authorize
from agents.selectors import registry_agents
from core.api import AUTH, endpoint, error
from core.db import db
from core.ids import ID_PATTERN, check_id


class AgentCapabilitySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)


class RegistryAgentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    version = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    capabilities = AgentCapabilitySerializer(many=True)


class RegistryAgentsSerializer(serializers.Serializer):
    subset = serializers.CharField()
    agents = RegistryAgentSerializer(many=True)


async def is_staff(request: HttpRequest) -> bool:
    """Whether the request comes with an admin session (needs the session middleware)."""
    user = await request.auser()
    return bool(user and user.is_active and user.is_staff)


@endpoint(
    "GET",
    summary="The agents installed for a tenant (and channel, subset)",
    parameters=[
        OpenApiParameter("tenantId", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True, pattern=ID_PATTERN),
        OpenApiParameter("channelId", OpenApiTypes.STR, OpenApiParameter.QUERY, pattern=ID_PATTERN),
        OpenApiParameter("subset", OpenApiTypes.STR, OpenApiParameter.QUERY, pattern=ID_PATTERN),
        AUTH,
    ],
    responses={
        200: RegistryAgentsSerializer,
        400: error("Invalid id"),
        401: error("Missing or unknown API key (when keys are required)"),
        403: error("API key of another tenant"),
    },
)
async def agents(request: HttpRequest) -> dict:
    tenant_id = check_id(request.GET.get("tenantId"), "tenantId")
    channel_id = request.GET.get("channelId")
    if channel_id is not None:
        check_id(channel_id, "channelId")
    subset = check_id(request.GET.get("subset", request.headers.get("x-subset") or "stable"), "subset")
    if settings.REQUIRE_API_KEYS and not await is_staff(request):
        await db(api_key_authorize)(tenant_id=tenant_id, authorization=request.headers.get("Authorization"))
    return await db(registry_agents)(tenant_id=tenant_id, channel_id=channel_id, subset=subset)
