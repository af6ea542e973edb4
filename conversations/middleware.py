"""A short path through the middleware stack for the chat API's hot endpoints.

Django's built-in middleware (sessions, auth, CSRF, messages, ...) is synchronous: under
ASGI each one costs two hops into a worker thread per request. The chat endpoints use
none of it (no cookies, CSRF-exempt, keys in headers), so this async middleware, placed
after CORS, calls their views directly and adds the security headers the skipped
middleware would have added. Everything else (admin, history with its admin-session
check) takes the normal path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.decorators import async_only_middleware

from conversations import views
from core import errors

FAST_VIEWS = {views.chat_message, views.chat_stream, views.agents, views.not_found}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# Set by the web process's ASGI entry point (lmos_runtime.asgi) when it resolved the path
# to a hot endpoint already; absent under test clients.
FAST_VIEW_SCOPE_KEY = "lmos_runtime.fast_view"


def fast_view(path: str):
    """The view of `path` when it is one of the chat API's hot endpoints, else None."""
    if not (path.startswith("/apis/") or path.startswith("/lmos/runtime/apis/")):
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match if match.func in FAST_VIEWS else None


def is_fast_path(path: str) -> bool:
    return fast_view(path) is not None


@async_only_middleware
def api_fast_path(get_response: Callable[[HttpRequest], Awaitable[HttpResponse]]):
    async def middleware(request: HttpRequest) -> HttpResponse:
        match = getattr(request, "scope", {}).get(FAST_VIEW_SCOPE_KEY) or fast_view(request.path_info)
        if match is None:
            return await get_response(request)
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it
        except DisallowedHost:
            return errors.error_response(errors.InvalidRequest("Invalid Host header"))
        response = await match.func(request, *match.args, **match.kwargs)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    return middleware
