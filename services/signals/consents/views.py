"""Consent records as API bodies."""

from __future__ import annotations

from services.signals.casework.schemas import ConsentRead, ObjectionRead
from services.signals.models import ConsentRecord


def given(row: ConsentRecord) -> ConsentRead:
    return ConsentRead(purpose=row.purpose, status="given", given_at=row.given_at,
                       recorded_by=row.recorded_by, recorded_at=row.recorded_at)


def objection(row: ConsentRecord) -> ObjectionRead:
    return ObjectionRead(purpose=row.purpose, objected_at=row.given_at,
                         recorded_by=row.recorded_by, recorded_at=row.recorded_at)
