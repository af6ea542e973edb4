"""An API endpoint is declared once, on its view.

The API views are async Django views (DRF has no async views). `endpoint(...)` states a
view's method, its request and response shapes (DRF serializers), its parameters and its
error table, and makes the view:

- render what it returns with the declared 200 serializer (a response passes as it
  is; `Answer` adds headers);
- answer every failure as `{"errorCode", "message"}` JSON, a wrong method as 405;
- appear in the OpenAPI schema: `SCHEMA_URLCONF` builds, from every declared view in
  ROOT_URLCONF, the DRF stand-in drf-spectacular reads (path parameters are ids);
- take the chat fast path when declared `fast` (conversations/middleware.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, get_resolver, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from core import errors
from core.ids import ID_PATTERN


class ErrorSerializer(serializers.Serializer):
    errorCode = serializers.CharField()
    message = serializers.CharField()


def error(description: str) -> OpenApiResponse:
    """An error response of the schema's error table."""
    return OpenApiResponse(ErrorSerializer, description=description)


AUTH = OpenApiParameter(
    "Authorization", OpenApiTypes.STR, OpenApiParameter.HEADER, description="Bearer <tenant API key>"
)


@dataclass(frozen=True)
class Answer:
    """A view's result with response headers: `data` is rendered by the 200 serializer."""

    data: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    method: str
    summary: str
    responses: dict[Any, Any]
    request: type[serializers.Serializer] | None = None
    parameters: tuple[OpenApiParameter, ...] = ()
    description: str = ""
    fast: bool = False

    def schema(self, path_ids: list[str]) -> dict[str, Any]:
        ids = [OpenApiParameter(n, OpenApiTypes.STR, OpenApiParameter.PATH, pattern=ID_PATTERN) for n in path_ids]
        return {
            "summary": self.summary,
            "description": self.description or None,
            "request": self.request,
            "responses": self.responses,
            "parameters": [*ids, *self.parameters],
        }


View = Callable[..., Awaitable[Any]]


def endpoint(
    method: str,
    *,
    summary: str,
    responses: dict[Any, Any],
    request: type[serializers.Serializer] | None = None,
    parameters: tuple[OpenApiParameter, ...] | list[OpenApiParameter] = (),
    description: str = "",
    fast: bool = False,
) -> Callable[[View], View]:
    """Declare an async API view (see the module docstring). `fast`: the view uses nothing
    of the middleware the fast path skips (no session, no CSRF; keys come in headers)."""
    spec = Endpoint(method, summary, responses, request, tuple(parameters), description, fast)
    ok = responses.get(200)
    renderer = ok() if isinstance(ok, type) and issubclass(ok, serializers.BaseSerializer) else None

    def decorate(view: View) -> View:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                return errors.error_response(
                    errors.MethodNotAllowed(f"Method {request.method} is not allowed here", headers={"Allow": method})
                )
            try:
                result = await view(request, *args, **kwargs)
            except errors.RuntimeApiError as exc:
                return errors.error_response(exc)
            except Exception as exc:
                return errors.error_response(errors.unexpected_error(exc))
            if isinstance(result, HttpResponseBase):
                return result
            answer = result if isinstance(result, Answer) else Answer(result)
            # One bound serializer per view, reused: to_representation keeps no state.
            response = JsonResponse(renderer.to_representation(answer.data) if renderer else answer.data)
            for header, value in answer.headers.items():
                response[header] = value
            return response

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        wrapper.endpoint = spec  # type: ignore[attr-defined]
        wrapper.fast_path = fast  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _declared(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Endpoint, str]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _declared(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "endpoint"):
            yield route, pattern.callback.endpoint, pattern.callback.__name__


def schema_urlpatterns() -> list[URLPattern]:
    """For drf-spectacular: one DRF stand-in per declared view of ROOT_URLCONF, at the same
    path (parameter names in camelCase, as LMOS spells them). Never routed to."""
    stand_ins = []
    for route, spec, name in _declared(get_resolver().url_patterns):
        route = re.sub(r"<(\w+):(\w+)>", lambda m: f"<{m[1]}:{_camel(m[2])}>", route)
        ids = re.findall(r"<\w+:(\w+)>", route)
        handler = extend_schema(**spec.schema(ids))(lambda self, request, **kwargs: None)
        stand_in = type(f"{name}_schema", (APIView,), {spec.method.lower(): handler})
        stand_ins.append(path(route, stand_in.as_view()))
    return stand_ins


class _SchemaUrlconf:
    """A urlconf whose `urlpatterns` (all drf-spectacular reads) are the stand-ins, built
    when the schema is generated."""

    @property
    def urlpatterns(self) -> list[URLPattern]:
        return schema_urlpatterns()


SCHEMA_URLCONF = _SchemaUrlconf()
