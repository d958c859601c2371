"""Bodies of the access-log endpoints."""

from __future__ import annotations

from datetime import datetime

from services.signals.schemas_common import Body


class AccessLogEntryRead(Body):
    """One read of personal data, with its place in the hash chain."""

    id: int
    subject: str
    organisation: str
    role: str
    purpose: str
    record_type: str
    record_id: str
    fields: list[str]
    at: datetime
    prev_hash: str
    entry_hash: str


class AccessLogPage(Body):
    items: list[AccessLogEntryRead]
    next_cursor: str | None


class ChainVerification(Body):
    """Whether the whole log is intact (links and content hashes)."""

    valid: bool
    checked: int
    first_bad_entry_id: int | None
    reason: str | None
    head: str
