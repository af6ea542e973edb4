"""Structured logs: LOG_FORMAT=json gives one JSON object per line with the turn's context,
and credentials never reach a log line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.logging import JsonFormatter, RedactingFilter, redact

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def capture():
    """A logger writing through the given formatter (and filter) into a buffer."""
    handlers = []

    def make(formatter: logging.Formatter, *, redacting: bool = False) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        if redacting:
            handler.addFilter(RedactingFilter())
        logger = logging.getLogger(f"tests.logging.{len(handlers)}")
        logger.handlers, logger.propagate = [handler], False
        logger.setLevel(logging.DEBUG)
        handlers.append((logger, handler))
        return logger, stream

    yield make
    for logger, _ in handlers:
        logger.handlers, logger.propagate = [], True


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context_passed_with_extra(capture):
    log, stream = capture(JsonFormatter())
    log.info(
        "turn answered\nsecond line",
        extra={"tenant": "acme", "conversation_id": "c-1", "turn_id": "t-1", "agent": "billing-agent"},
    )
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("agent failed", extra={"tenant": "acme", "turn_id": "t-2"})
    entries = lines(stream)
    assert len(entries) == 2
    assert entries[0] | {"time": None} == {
        "time": None,
        "level": "INFO",
        "logger": log.name,
        "message": "turn answered\nsecond line",
        "tenant": "acme",
        "conversation_id": "c-1",
        "turn_id": "t-1",
        "agent": "billing-agent",
    }
    assert entries[1]["level"] == "ERROR" and "ValueError: boom" in entries[1]["exception"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("headers: {'Authorization': 'Bearer abc.def-ghi'}", "abc.def-ghi"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("calling with bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
        ("key lmos_0123456789abcdef0123 rejected", "0123456789abcdef0123"),
        ("connect postgres://lmos:hunter2@db:5432/lmos failed", "hunter2"),
        ('{"userToken": "tok-123", "api_key": "k-456"}', "tok-123"),
        ('{"userToken": "tok-123", "api_key": "k-456"}', "k-456"),
    ],
)
def test_credentials_are_redacted(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[REDACTED]" in cleaned


def test_redaction_keeps_ordinary_text():
    text = "turn t-1 of conversation c-1 routed to billing-agent (max_tokens=2000, key=channelId)"
    assert redact(text) == text


def test_both_formats_redact_messages_arguments_and_tracebacks(capture):
    json_log, json_stream = capture(JsonFormatter())
    text_log, text_stream = capture(logging.Formatter("%(levelname)s %(message)s"), redacting=True)
    for log in (json_log, text_log):
        log.warning("agent said no to %s", "Authorization: Bearer very-secret-token")
        try:
            raise RuntimeError("handshake with token=very-secret-token failed")
        except RuntimeError:
            log.exception("agent call failed")
    for output in (json_stream.getvalue(), text_stream.getvalue()):
        assert "very-secret-token" not in output
        assert "agent call failed" in output


def test_log_format_json_setting_gives_one_json_object_per_line():
    """Through the real settings (LOGGING from lmos_runtime/settings.py)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environment.update(DJANGO_SETTINGS_MODULE="lmos_runtime.settings", SECRET_KEY="x" * 50, LOG_FORMAT="json")
    code = (
        "import django, logging; django.setup(); log = logging.getLogger('lmos_runtime.test');"
        "log.info('turn answered', extra={'tenant': 'acme', 'conversation_id': 'c-1', 'turn_id': 't-1', "
        "'agent': 'billing-agent'});"
        "log.warning('two\\nlines with Authorization: Bearer abcdef')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    answered = next(entry for entry in entries if entry["message"] == "turn answered")
    assert {k: answered[k] for k in ("tenant", "conversation_id", "turn_id", "agent", "level")} == {
        "tenant": "acme",
        "conversation_id": "c-1",
        "turn_id": "t-1",
        "agent": "billing-agent",
        "level": "INFO",
    }
    assert "abcdef" not in result.stderr
