"""Opaque cursors for keyset pagination (candidate for `shared/`)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

import orjson

from shared.problems import BadRequest, InvalidParam

MAX_LIMIT = 200


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).rstrip(b"=").decode()


def _invalid_cursor() -> BadRequest:
    return BadRequest("the cursor is not valid", invalid=[InvalidParam(
        name="query.cursor", code="invalid_cursor", reason="use a nextCursor as given")])


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise _invalid_cursor()
    return values


def encode_keyset(at: datetime, last_id: uuid.UUID) -> str:
    return encode_cursor(at.isoformat(), str(last_id))


def decode_keyset(cursor: str) -> tuple[datetime, uuid.UUID]:
    """A (moment, id) cursor for newest-first lists."""
    at, last = decode_cursor(cursor, 2)
    try:
        moment, last_id = datetime.fromisoformat(str(at)), uuid.UUID(str(last))
    except ValueError:
        raise _invalid_cursor() from None
    if moment.tzinfo is None:
        raise _invalid_cursor()
    return moment, last_id


def decode_id_cursor(cursor: str) -> int:
    value = decode_cursor(cursor, 1)[0]
    if not isinstance(value, int):
        raise _invalid_cursor()
    return value
