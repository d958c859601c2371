"""Opaque cursors for keyset pagination: base64url of a JSON list of the last row's keys."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from shared.problems import BadRequest, InvalidParam


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).rstrip(b"=").decode()


def invalid_cursor() -> BadRequest:
    return BadRequest("the cursor is not valid", invalid=[InvalidParam(
        name="query.cursor", code="invalid_cursor", reason="use a nextCursor as given")])


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The values of a cursor this API gave out; anything else is a 400 naming the cursor."""
    try:
        # ValueError also covers non-ASCII input, which b64decode refuses before decoding.
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (ValueError, binascii.Error):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise invalid_cursor()
    return values
