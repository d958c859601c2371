"""Erasure records as API bodies."""

from __future__ import annotations

from typing import cast

import orjson

from services.signals.datasubjects.schemas import ErasureKind, ErasureRecordRead
from services.signals.models import ErasureRecord


def erasure_record(row: ErasureRecord) -> ErasureRecordRead:
    return ErasureRecordRead(
        id=row.id, kind=cast(ErasureKind, row.kind), actor=row.actor,
        actor_role=row.actor_role, reason=row.reason, signal_ids=orjson.loads(row.signal_ids),
        at=row.at)
