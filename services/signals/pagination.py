"""The keyset cursors of the signals lists, on top of the shared opaque cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.pagination import decode_cursor, encode_cursor, invalid_cursor

__all__ = ["MAX_LIMIT", "decode_cursor", "decode_id_cursor", "decode_keyset", "encode_cursor",
           "encode_keyset"]

MAX_LIMIT = 200


def encode_keyset(at: datetime, last_id: uuid.UUID) -> str:
    return encode_cursor(at.isoformat(), str(last_id))


def decode_keyset(cursor: str) -> tuple[datetime, uuid.UUID]:
    """A (moment, id) cursor for newest-first lists."""
    at, last = decode_cursor(cursor, 2)
    try:
        moment, last_id = datetime.fromisoformat(str(at)), uuid.UUID(str(last))
    except ValueError:
        raise invalid_cursor() from None
    if moment.tzinfo is None:
        raise invalid_cursor()
    return moment, last_id


def decode_id_cursor(cursor: str) -> int:
    value = decode_cursor(cursor, 1)[0]
    if not isinstance(value, int):
        raise invalid_cursor()
    return value
