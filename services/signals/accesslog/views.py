"""Access-log rows as API bodies."""

from __future__ import annotations

import orjson

from services.signals.accesslog.schemas import AccessLogEntryRead
from services.signals.models import AccessLogRow


def entry(row: AccessLogRow) -> AccessLogEntryRead:
    return AccessLogEntryRead(
        id=row.id, subject=row.subject, organisation=row.organisation, role=row.role,
        purpose=row.purpose, record_type=row.record_type, record_id=row.record_id,
        controller=row.controller, outcome=row.outcome, fields=orjson.loads(row.fields),
        at=row.at, prev_hash=row.prev_hash, entry_hash=row.entry_hash)
