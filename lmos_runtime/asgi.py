"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import gc
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


def _freeze_startup_objects() -> None:
    # Everything built at start-up (Django, the models, their tokenizers) lives as long as
    # the process: moved out of the collector's reach, full collections stop walking it,
    # which otherwise adds tens of milliseconds to whichever turn triggers one.
    gc.collect()
    gc.freeze()


if settings.ROUTER_PRELOAD and settings.ROUTER_TYPE in ("vector", "hybrid"):
    import threading

    from routing.embeddings import get_embedder

    def _preload() -> None:
        get_embedder()
        _freeze_startup_objects()

    threading.Thread(target=_preload, name="router-preload", daemon=True).start()
else:
    _freeze_startup_objects()

application = ProtocolTypeRouter(
    {
        # Serves the admin's CSS/JS under STATIC_URL only; every other path goes to Django.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
