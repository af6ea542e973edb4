"""The API, served under both prefixes (lmos_runtime/urls.py). Each view declares its own
contract (core/api.py): the OpenAPI schema is built from the views listed here."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agents import api as agents_api
from conversations import views
from core.api import SCHEMA_URLCONF

urlpatterns = [
    path("<str:tenant_id>/chat/<str:conversation_id>/message", views.chat_message, name="chat-message"),
    path("<str:tenant_id>/chat/<str:conversation_id>/stream", views.chat_stream, name="chat-stream"),
    path("<str:tenant_id>/conversations/<str:conversation_id>", views.history, name="conversation-history"),
    path("<str:tenant_id>/route", views.route, name="route-dry-run"),
    path("agents", agents_api.agents, name="agents"),
    path("schema", SpectacularAPIView.as_view(urlconf=SCHEMA_URLCONF), name="openapi-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="openapi-docs"),
    # Anything else under an API prefix is a JSON 404, never an HTML page.
    re_path(r"^.*$", views.not_found),
]
