"""Only for the OpenAPI generator (see conversations.schema); never included in ROOT_URLCONF."""

from conversations.schema import schema_urlpatterns

urlpatterns = schema_urlpatterns
