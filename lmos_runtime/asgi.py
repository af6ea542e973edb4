"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from agents.scheduler import start_embedded_sync  # noqa: E402
from conversations.websocket_urls import websocket_urlpatterns  # noqa: E402

# Without REDIS_URL there is no Celery beat: the web process syncs the registry itself.
if settings.EMBEDDED_SYNC:
    start_embedded_sync()

if settings.ROUTER_PRELOAD and settings.ROUTER_TYPE in ("vector", "hybrid"):
    import threading

    from routing.embeddings import get_embedder

    threading.Thread(target=get_embedder, name="router-preload", daemon=True).start()

application = ProtocolTypeRouter(
    {
        # Serves the admin's CSS/JS under STATIC_URL only; every other path goes to Django.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
