"""Keyset pagination: opaque cursors (base64url of a JSON list of the last row's keys), the
cursor shapes of the lists, and cutting a page from `limit + 1` rows."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

from shared.problems import BadRequest, InvalidParam

T = TypeVar("T")


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


#: The largest page a list answers; `limit` beyond it is invalid input.
MAX_LIMIT = 200


def encode_keyset(at: datetime, last_id: uuid.UUID) -> str:
    """The cursor after a row of a newest-first list ordered by (moment, id)."""
    return encode_cursor(at.isoformat(), str(last_id))


def decode_keyset(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (moment, id) of an `encode_keyset` cursor; anything else is a 400."""
    at, last = decode_cursor(cursor, 2)
    try:
        moment, last_id = datetime.fromisoformat(str(at)), uuid.UUID(str(last))
    except ValueError:
        raise invalid_cursor() from None
    if moment.tzinfo is None:
        raise invalid_cursor()
    return moment, last_id


def decode_id_cursor(cursor: str) -> int:
    """The id of a cursor after a row of a list ordered by integer id."""
    value = decode_cursor(cursor, 1)[0]
    if not isinstance(value, int):
        raise invalid_cursor()
    return value


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], T | None]:
    """Rows fetched with `limit + 1`: the page, and its last row when another page follows
    (the row the next cursor is made from)."""
    page = list(rows[:limit])
    return page, (page[-1] if len(rows) > limit else None)
