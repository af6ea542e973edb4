"""Log records for operators: JSON lines (LOG_FORMAT=json) carrying the turn's context,
with credentials scrubbed.

Context reaches a record in one of two ways:

- `extra=` on the call: `log.info("turn answered", extra={"tenant": t, "turn_id": id})`;
- `log_context(tenant=..., conversation_id=..., turn_id=...)` around a block: every record
  logged inside it (in this task or thread, including code that knows nothing about the
  turn) carries the fields. `extra=` wins over the block's values.

Never log user message content at INFO or above, and never a key or token: the
formatter and `RedactingFilter` scrub `Authorization`/bearer values and API-key-looking
strings, but that is a safety net, not a licence.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = (
    "tenant",
    "conversation_id",
    "turn_id",
    "agent",
    "channel",
    "subset",
    "strategy",
    "error_code",
    "reference",
)

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("lmos_log_context", default=None)

REDACTED = "[REDACTED]"
_SECRET_PATTERNS = [
    # "Authorization: Bearer abc", "authorization=abc", "'Authorization': 'abc'"
    re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token)\s+)?[^\s'\",;]+"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:api[_-]?key|token|password|passwd|secret(?:[_-]?key)?)['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&]+"),
    # OpenAI-style keys and this runtime's tenant keys (agents.models.ApiKey.PREFIX)
    re.compile(r"()\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"()\blmos_[A-Za-z0-9_-]{16,}"),
    # credentials inside URLs: postgres://user:password@host
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)"),
]


def redact(text: str) -> str:
    """`text` with anything that looks like a credential replaced by [REDACTED]."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach `fields` (tenant, conversation_id, turn_id, agent, ...) to every record
    logged inside the block. Nested blocks add to the outer one."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, Any]:
    return dict(_context.get() or {})


class RedactingFilter(logging.Filter):
    """Scrub credentials from a record's message (and traceback text) before any
    handler formats it. Install on the console handler for the text format too."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the turn context fields
    that are set, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        bound = _context.get() or {}
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is None:
                value = bound.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = redact(record.exc_text or self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, default=str, ensure_ascii=False)
