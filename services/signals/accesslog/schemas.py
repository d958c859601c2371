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
    #: The organisation responsible for the record.
    controller: str
    #: `granted`, or `refused` for an attempt that was turned down (then `fields` is empty).
    outcome: str
    fields: list[str]
    at: datetime
    prev_hash: str
    entry_hash: str


class AccessLogPage(Body):
    items: list[AccessLogEntryRead]
    next_cursor: str | None


class ChainVerification(Body):
    """Whether the log is intact: keyed hashes, links and the latest checkpoint kept outside
    the database. Counts and entry ids are only of your organisation's entries."""

    valid: bool
    #: Your organisation's entries (read by it or about its records) the verified chain covers.
    checked: int
    #: The first entry that failed, if it is one of your organisation's.
    first_bad_entry_id: int | None
    reason: str | None
    head: str
    #: When the latest checkpoint the chain was compared with was taken; null if none yet.
    checkpoint_at: datetime | None
    #: Walked from the first entry (`full=true`), not from the last verified checkpoint.
    full: bool
