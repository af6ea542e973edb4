"""Ids of the contract (tenant, conversation, turn, channel, subset): 1-128 characters of
`A-Z a-z 0-9 . _ : @ -`; anything else is 400."""

from __future__ import annotations

import re

from core import errors

ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
ID_RULE = "1-128 characters of A-Z a-z 0-9 . _ : @ -"
_ID_RE = re.compile(ID_PATTERN)


def check_id(value: str | None, what: str) -> str:
    """`value` when it is a valid id, else InvalidRequest naming `what`."""
    if value is None or not _ID_RE.match(value):
        raise errors.InvalidRequest(f"{what} must be {ID_RULE}")
    return value
