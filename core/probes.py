"""The middleware that answers Kubernetes probes and Prometheus before anything else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from core.health import liveness, readiness
from core.metrics import metrics_view

VIEWS: dict[str, Callable[[HttpRequest], Any]] = {
    "/health": readiness,
    "/health/liveness": liveness,
    "/health/readiness": readiness,
    "/metrics": metrics_view,
}


@sync_and_async_middleware
def probes_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Answer the probe and metrics paths before any other middleware.

    Kubernetes probes and Prometheus address a pod by its IP, which ALLOWED_HOSTS rarely
    lists; CommonMiddleware would answer them 400. Put this first in MIDDLEWARE.
    """
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            view = VIEWS.get(request.path_info.rstrip("/"))
            if view is None:
                return await get_response(request)
            if iscoroutinefunction(view):
                return await view(request)
            return await sync_to_async(view)(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        view = VIEWS.get(request.path_info.rstrip("/"))
        if view is None:
            return get_response(request)
        if iscoroutinefunction(view):
            return async_to_sync(view)(request)
        return view(request)

    return middleware
