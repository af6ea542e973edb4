"""A short path through the middleware stack for the chat API's hot endpoints.

Django's built-in middleware (sessions, auth, CSRF, messages, ...) is synchronous: under
ASGI each one costs two hops into a worker thread per request. The views declared `fast`
(core.api.endpoint: the chat endpoints, and the API's JSON 404) use none of it: no
cookies, no session, CSRF-exempt, keys in headers. So this async middleware calls them
directly, and does itself what the middleware after it in MIDDLEWARE would have done for
them: `SKIPPED` lists each one with what the fast path does instead. The system check at
the bottom fails when MIDDLEWARE holds one after this that `SKIPPED` does not list, so a
middleware added to settings never silently misses the chat endpoints. Everything else
(admin, history and the registry listing with their admin-session check) takes the
normal path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.decorators import async_only_middleware

from core import errors

FAST_PATH = "conversations.middleware.api_fast_path"
# The security headers SecurityMiddleware and XFrameOptionsMiddleware add with this
# project's settings (their defaults).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
SKIPPED = {
    "django.middleware.security.SecurityMiddleware": "adds its headers (SECURITY_HEADERS)",
    "django.contrib.sessions.middleware.SessionMiddleware": "not needed: fast views read no session",
    "django.middleware.common.CommonMiddleware": "checks the Host against ALLOWED_HOSTS (400 otherwise)",
    "django.middleware.csrf.CsrfViewMiddleware": "not needed: API views are CSRF-exempt",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "not needed: fast views take API keys only",
    "django.contrib.messages.middleware.MessageMiddleware": "not needed: fast views send no messages",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "sets X-Frame-Options: DENY",
}

# Set by the web process's ASGI entry point (lmos_runtime.asgi) when it resolved the path
# to a hot endpoint already; absent under test clients.
FAST_VIEW_SCOPE_KEY = "lmos_runtime.fast_view"


def fast_view(path: str) -> ResolverMatch | None:
    """The resolved view of `path` when it is declared fast, else None."""
    if not (path.startswith("/apis/") or path.startswith("/lmos/runtime/apis/")):
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match if getattr(match.func, "fast_path", False) else None


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


@checks.register(checks.Tags.security)
def check_fast_path_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every middleware after the fast path in MIDDLEWARE must be one it stands in for."""
    middleware = list(settings.MIDDLEWARE)
    if FAST_PATH not in middleware:
        return []
    return [
        checks.Error(
            f"{name} comes after {FAST_PATH} in MIDDLEWARE, which skips it for the chat endpoints.",
            hint=f"Put it before {FAST_PATH}, or make the fast path do its work and list it in SKIPPED.",
            obj=name,
            id="conversations.E001",
        )
        for name in middleware[middleware.index(FAST_PATH) + 1 :]
        if name not in SKIPPED
    ]
