"""One exception hierarchy for the whole runtime and the handler that renders it.

Services raise these; only the handlers here turn them into HTTP responses, always as
JSON `{"errorCode", "message"}`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

log = logging.getLogger("lmos_runtime.errors")


class RuntimeApiError(Exception):
    status: int = 500
    error_code: str = "INTERNAL_SERVER_ERROR"
    default_message: str = "Internal server error"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, str]:
        return {"errorCode": self.error_code, "message": self.message}


class InvalidRequest(RuntimeApiError):
    status, error_code, default_message = 400, "INVALID_REQUEST", "Invalid request"


class Unauthorized(RuntimeApiError):
    status, error_code, default_message = 401, "UNAUTHORIZED", "A valid API key is required"


class Forbidden(RuntimeApiError):
    status, error_code, default_message = 403, "FORBIDDEN", "This API key does not grant access to this tenant"


class AgentNotFound(RuntimeApiError):
    status, error_code, default_message = 404, "AGENT_NOT_FOUND", "No agent found"

    def __init__(self, message: str | None = None, *, decision: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        # The router's no-agent decision, when a router ran: stored with the failed turn.
        self.decision = decision


class NotFound(RuntimeApiError):
    status, error_code, default_message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(RuntimeApiError):
    status, error_code, default_message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class TurnConflict(RuntimeApiError):
    status, error_code, default_message = 409, "TURN_CONFLICT", "This turn id was already used with a different body"


class PayloadTooLarge(RuntimeApiError):
    status, error_code, default_message = 413, "PAYLOAD_TOO_LARGE", "Request body too large"


class UnsupportedMediaType(RuntimeApiError):
    status, error_code, default_message = 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"


class RateLimited(RuntimeApiError):
    status, error_code, default_message = 429, "RATE_LIMITED", "Too many requests"


class AgentClientError(RuntimeApiError):
    status, error_code, default_message = 502, "AGENT_CLIENT_EXCEPTION", "The agent could not be called"

    def __init__(self, message: str | None = None, *, kind: str = "protocol", **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(message, **kwargs)


class RegistryUnavailable(RuntimeApiError):
    status, error_code, default_message = 503, "REGISTRY_UNAVAILABLE", "The agent registry is unavailable"


class Overloaded(RuntimeApiError):
    status, error_code, default_message = 503, "OVERLOADED", "Too many turns in flight, try again shortly"


class AgentTimeout(RuntimeApiError):
    status, error_code, default_message = 504, "AGENT_TIMEOUT", "The agent did not answer in time"


def error_response(error: RuntimeApiError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    for key, value in error.headers.items():
        response[key] = value
    return response


def unexpected_error(exc: BaseException) -> RuntimeApiError:
    """Log an unexpected exception with a reference id the client can quote."""
    reference = uuid.uuid4().hex[:12]
    log.error("unexpected error (reference %s)", reference, exc_info=exc, extra={"reference": reference})
    return RuntimeApiError(f"Internal server error (reference {reference})")


_DRF_MAP: list[tuple[type[Exception], type[RuntimeApiError]]] = [
    (drf_exceptions.ParseError, InvalidRequest),
    (drf_exceptions.ValidationError, InvalidRequest),
    (drf_exceptions.NotAuthenticated, Unauthorized),
    (drf_exceptions.AuthenticationFailed, Unauthorized),
    (drf_exceptions.PermissionDenied, Forbidden),
    (drf_exceptions.NotFound, NotFound),
    (drf_exceptions.MethodNotAllowed, MethodNotAllowed),
    (drf_exceptions.UnsupportedMediaType, UnsupportedMediaType),
    (drf_exceptions.Throttled, RateLimited),
]


def to_api_error(exc: BaseException) -> RuntimeApiError:
    if isinstance(exc, RuntimeApiError):
        return exc
    for drf_class, ours in _DRF_MAP:
        if isinstance(exc, drf_class):
            detail = getattr(exc, "detail", None)
            return ours(flatten_detail(detail) if detail is not None else None)
    return unexpected_error(exc)


def flatten_detail(detail: Any, path: str = "") -> str:
    """DRF's nested validation errors as one line: "inputContext.messages[3].content: ...".

    The errors of a list of objects come as one (possibly empty) entry per item: items
    without errors are left out, the others are named by their index.
    """
    if isinstance(detail, dict):
        parts = [flatten_detail(value, f"{path}.{key}" if path else str(key)) for key, value in detail.items()]
    elif isinstance(detail, list):
        parts = [
            flatten_detail(item, f"{path}[{index}]" if isinstance(item, dict) else path)
            for index, item in enumerate(detail)
        ]
    else:
        return f"{path}: {detail}" if path else str(detail)
    return "; ".join(part for part in parts if part)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = to_api_error(exc)
    response = Response(error.as_dict(), status=error.status)
    for key, value in error.headers.items():
        response[key] = value
    return response
