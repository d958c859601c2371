"""The orders of a signal list, and the cursors that page through each.

`recorded` (the default) is newest first. `urgency` is the coordinators' work queue: acute
signals first, then the overdue ones (still `new` past their SLA), then by SLA due date,
earliest first. Overdue depends on the clock, so an urgency list is ordered as of one moment,
the first page's, and its cursor carries that moment: a signal that passes its SLA while
someone pages cannot move to a page already read and be skipped or shown twice.

Each cursor belongs to its order; one from the other order is a 400 that says so, since
its keys mean nothing in this one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.signals.casework.workflow import Severity, SignalStatus
from services.signals.models import Signal
from shared.pagination import (
    decode_cursor,
    decode_keyset,
    encode_cursor,
    encode_keyset,
    invalid_cursor,
)
from shared.problems import BadRequest, InvalidParam


class SignalSort(StrEnum):
    """The orders of `GET /v1/signals?sort=` (labels: the `signal-sort` code list)."""

    RECORDED = "recorded"
    URGENCY = "urgency"


#: The first element of an urgency cursor: a recorded cursor can never be read as one.
_URGENCY_TAG = "urgency"


@dataclass(frozen=True)
class RecordedKey:
    """Where a newest-first list stopped."""

    recorded_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class UrgencyKey:
    """Where an urgency list stopped, and the moment it is ordered as of. Ranks sort
    ascending: 0 for an acute (an overdue) signal, 1 for the others."""

    as_of: datetime
    acute_rank: int
    overdue_rank: int
    sla_due_at: datetime
    id: uuid.UUID


def urgency_key(signal: Signal, as_of: datetime) -> UrgencyKey:
    overdue = signal.status == SignalStatus.NEW and signal.sla_due_at < as_of
    return UrgencyKey(as_of=as_of, acute_rank=0 if signal.severity == Severity.ACUTE else 1,
                      overdue_rank=0 if overdue else 1, sla_due_at=signal.sla_due_at,
                      id=signal.id)


def encode(key: RecordedKey | UrgencyKey) -> str:
    if isinstance(key, RecordedKey):
        return encode_keyset(key.recorded_at, key.id)
    return encode_cursor(_URGENCY_TAG, key.as_of.isoformat(), key.acute_rank,
                         key.overdue_rank, key.sla_due_at.isoformat(), str(key.id))


def decode(sort: SignalSort, cursor: str) -> RecordedKey | UrgencyKey:
    """The key of a cursor of the `sort` order; a 400 naming the cursor otherwise."""
    try:
        return _decode(sort, cursor)
    except BadRequest:
        for other in SignalSort:
            if other != sort and _decodes(other, cursor):
                raise cursor_of_other_sort(other) from None
        raise


def _decodes(sort: SignalSort, cursor: str) -> bool:
    try:
        _decode(sort, cursor)
    except BadRequest:
        return False
    return True


def _decode(sort: SignalSort, cursor: str) -> RecordedKey | UrgencyKey:
    if sort == SignalSort.RECORDED:
        return RecordedKey(*decode_keyset(cursor))
    tag, as_of, acute, overdue, due, last = decode_cursor(cursor, 6)
    if tag != _URGENCY_TAG or not all(type(r) is int and r in (0, 1) for r in (acute, overdue)):
        raise invalid_cursor()
    try:
        key = UrgencyKey(as_of=datetime.fromisoformat(str(as_of)), acute_rank=acute,
                         overdue_rank=overdue, sla_due_at=datetime.fromisoformat(str(due)),
                         id=uuid.UUID(str(last)))
    except ValueError:
        raise invalid_cursor() from None
    if key.as_of.tzinfo is None or key.sla_due_at.tzinfo is None:
        raise invalid_cursor()
    return key


def cursor_of_other_sort(sort: SignalSort) -> BadRequest:
    return BadRequest(f"the cursor pages the list in {sort} order", invalid=[InvalidParam(
        name="query.cursor", code="cursor_of_other_sort",
        reason="page with the sort of the page that gave the cursor, or start without one")])
