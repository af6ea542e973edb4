"""Log records for operators: JSON lines (LOG_FORMAT=json) carrying the turn's context,
with credentials scrubbed.

Context reaches a record with `extra=` on the call:
`log.info("turn answered", extra={"tenant": t, "turn_id": id})`; the fields in
CONTEXT_FIELDS that are set become keys of the JSON line.

Never log user message content at INFO or above, and never a key or token: the
formatter and `RedactingFilter` scrub `Authorization`/bearer values and API-key-looking
strings, but that is a safety net, not a licence.
"""

from __future__ import annotations

import json
import logging
import re
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
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = redact(record.exc_text or self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, default=str, ensure_ascii=False)
