"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lmos_runtime.settings")
django_asgi_app = get_asgi_application()

from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from asgiref.sync import ThreadSensitiveContext, sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core import signals  # noqa: E402
from django.db import close_old_connections, connections, reset_queries  # noqa: E402

from conversations.middleware import FAST_VIEW_SCOPE_KEY, fast_view  # noqa: E402
from conversations.websocket_urls import websocket_urlpatterns  # noqa: E402
from core.scheduler import start_embedded_scheduler  # noqa: E402

# Without REDIS_URL there is no Celery beat: the web process runs the schedule itself.
if settings.EMBEDDED_SYNC:
    start_embedded_scheduler()


def _freeze_startup_objects() -> None:
    # Everything built at start-up (Django, the models, their tokenizers) lives as long as
    # the process: moved out of the collector's reach, full collections stop walking it,
    # which otherwise adds tens of milliseconds to whichever turn triggers one.
    gc.collect()
    gc.freeze()


if settings.ROUTER_PRELOAD and settings.ROUTER_TYPE in ("vector", "hybrid"):
    import threading

    from routing.vector import limit_blas_threads, warm_up

    # Here, before the thread starts: see limit_blas_threads.
    limit_blas_threads()

    def _preload() -> None:
        warm_up()
        _freeze_startup_objects()

    threading.Thread(target=_preload, name="router-preload", daemon=True).start()
else:
    _freeze_startup_objects()


async def _request_started(**kwargs) -> None:
    """Django's request_started receivers (reset_queries, close_old_connections) without
    their thread hop when there is nothing to do: asend() runs sync receivers in a worker
    thread, which on every API request cost a thread start and two context switches for
    what is almost always a no-op (the chat path holds no ORM connection of its own)."""
    open_connections = [c for c in connections.all(initialized_only=True) if c.connection is not None]
    if settings.DEBUG or open_connections:
        await sync_to_async(_request_started_sync)()


def _request_started_sync() -> None:
    reset_queries()
    close_old_connections()


signals.request_started.disconnect(reset_queries)
signals.request_started.disconnect(close_old_connections)
signals.request_started.connect(_request_started)

_http_app = ASGIStaticFilesHandler(django_asgi_app)
# The chat endpoints' only thread-sensitive work is Django closing the response
# (microseconds). Django would run it in a new thread per request (a thread-sensitive
# context per request, joined by yet another thread); one long-lived thread serves them all.
_fast_sync = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-close")


async def http_application(scope, receive, send) -> None:
    match = fast_view(scope.get("path", ""))
    if match is None:
        await _http_app(scope, receive, send)
        return
    # Handed on in the scope: api_fast_path then does not resolve the path again.
    async with ThreadSensitiveContext(executor=_fast_sync):
        await _http_app({**scope, FAST_VIEW_SCOPE_KEY: match}, receive, send)


application = ProtocolTypeRouter(
    {
        # Serves the admin's CSS/JS under STATIC_URL only; every other path goes to Django.
        "http": http_application,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
