"""OpenTelemetry traces: the turn, its routing, the agent call, the turn store's statements
and the worker's registry sync.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
OTEL_TRACES_EXPORTER is set; OTEL_TRACES_EXPORTER=none keeps it off. The SDK reads its own
variables for the rest (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_*,
OTEL_TRACES_SAMPLER, OTEL_BSP_*). Exporters: `otlp` (OTLP over HTTP/protobuf, the
default) and `console`.

When off, `span()` hands back one shared do-nothing context manager and the SDK is never
called on the turn path. Spans carry ids, names, counts and statuses, never message
content; a failing span records the errorCode (or exception type), not the exception's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("core.tracing")

_NOOP = contextlib.nullcontext(None)
_tracer: Tracer | None = None
_provider: Any = None


def wanted() -> bool:
    """Whether the environment asks for traces."""
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter or any(os.environ.get(name, "").strip() for name in endpoints))


def _exporters_from_env() -> list[SpanExporter]:
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    exporters: list[SpanExporter] = []
    for name in names or ["otlp"]:
        if name == "otlp":
            protocol = os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            )
            if protocol.strip() != "http/protobuf":
                raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: this runtime exports http/protobuf only")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or "http://localhost:4318"
            endpoint = (
                os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip() or f"{base.rstrip('/')}/v1/traces"
            )
            exporters.append(OTLPSpanExporter(endpoint=endpoint))
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: use otlp, console or none")
    return exporters


def setup(exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on: with `exporter`, spans go there as each ends (tests pass the SDK's
    InMemorySpanExporter); without, from the environment in batches, or not at all when
    the environment asks for none. True when tracing is on."""
    global _tracer, _provider
    if exporter is None and not wanted():
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME", "").strip() else {"service.name": "lmos-runtime"}
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        for each in _exporters_from_env():
            provider.add_span_processor(BatchSpanProcessor(each))
    shutdown()
    _provider, _tracer = provider, provider.get_tracer("lmos_runtime")
    log.info("tracing on")
    return True


def shutdown() -> None:
    """Flush and stop; tracing is off afterwards."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _tracer is not None


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        f"lmos.{key}": value if isinstance(value, bool | int | float | str) else str(value)
        for key, value in attributes.items()
        if value is not None and value != ""
    }


def span(name: str, *, parent: Context | None = None, **attributes: Any) -> contextlib.AbstractContextManager:
    """A span around the block, made current (its children and the agent's traceparent
    hang from it); attribute keys get the `lmos.` prefix. Does nothing when tracing is off."""
    if _tracer is None:
        return _NOOP
    return _recording(_tracer, name, parent, _clean(attributes))


@contextlib.contextmanager
def _recording(tracer: Tracer, name: str, parent: Context | None, attributes: dict[str, Any]) -> Iterator[Span]:
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span(
        name, context=parent, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            code = getattr(exc, "error_code", None) or type(exc).__name__
            current.set_attribute("lmos.status", code)
            if not isinstance(exc, GeneratorExit | asyncio.CancelledError):
                current.set_status(Status(StatusCode.ERROR, code))
            raise


def traced(name: str, **attributes: Any) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """`span(name, **attributes)` around every call of an async function."""

    def decorate(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _tracer is None:
                return await fn(*args, **kwargs)
            with span(name, **attributes):
                return await fn(*args, **kwargs)

        return wrapper

    return decorate


def annotate(current: Span | None, **attributes: Any) -> None:
    """Add attributes to a span from `span()` (None when tracing is off)."""
    if current is not None:
        current.set_attributes(_clean(attributes))


def remote_parent(traceparent: str | None) -> Context | None:
    """The context a client's `traceparent` header names, to continue its trace."""
    if _tracer is None or not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def traceparent(fallback: str | None = None) -> str | None:
    """The current span as a `traceparent` header for the agent; when tracing is off (or
    nothing is recording), `fallback`, the client's own header passed on as it came."""
    if _tracer is None:
        return fallback
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent", fallback)
