"""Strict readers for environment variables.

A value that cannot be parsed stops start-up with a message naming the variable, instead
of silently falling back to a default the operator did not ask for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str, aliases: Sequence[str] = ()) -> str | None:
    for key in (name, *aliases):
        value = os.environ.get(key)
        if value is not None and value.strip() != "":
            return value.strip()
    return None


def _fail(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}={value!r} is invalid: expected {expected}.")


def env_str(name: str, default: str | None = None, *, aliases: Sequence[str] = ()) -> str | None:
    value = _raw(name, aliases)
    return default if value is None else value


def env_file(name: str, default: str) -> str:
    """A path to an optional file; "" when the variable turns it off ("off", "false",
    "none", "0"). Whether the file exists is for its reader to tell (and log)."""
    value = env_str(name, default) or ""
    return "" if value.lower() in ("off", "false", "none", "0") else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _fail(name, value, "true or false")


def _number(
    name: str,
    default: T,
    parse: Callable[[str], T],
    kind: str,
    minimum: float | None,
    maximum: float | None,
    aliases: Sequence[str],
) -> T:
    value = _raw(name, aliases)
    if value is None:
        return default
    try:
        number = parse(value)
    except ValueError:
        raise _fail(name, value, kind) from None
    if minimum is not None and number < minimum:  # type: ignore[operator]
        raise _fail(name, value, f"{kind} >= {minimum}")
    if maximum is not None and number > maximum:  # type: ignore[operator]
        raise _fail(name, value, f"{kind} <= {maximum}")
    return number


def env_int(
    name: str,
    default: int | None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    aliases: Sequence[str] = (),
) -> int | None:
    return _number(name, default, int, "an integer", minimum, maximum, aliases)


def env_float(
    name: str,
    default: float | None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    aliases: Sequence[str] = (),
) -> float | None:
    def parse(value: str) -> float:
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(value)
        return number

    return _number(name, default, parse, "a number", minimum, maximum, aliases)


def env_choice(name: str, default: str, choices: Sequence[str], *, aliases: Sequence[str] = ()) -> str:
    value = _raw(name, aliases)
    if value is None:
        return default
    if value not in choices:
        raise _fail(name, value, "one of " + ", ".join(choices))
    return value


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]
