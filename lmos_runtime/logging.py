"""JSON log lines (LOG_FORMAT=json) carrying the turn's context."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_CONTEXT_FIELDS = ("tenant", "conversation_id", "turn_id", "agent", "channel", "subset", "error_code", "reference")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
