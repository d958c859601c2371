"""Bodies of the access-log endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from services.signals.casework.schemas import Labelled
from services.signals.labels import code_label
from services.signals.schemas_common import Body


class AccessLogEntryRead(Labelled):
    """One read of personal data, with its place in the hash chain."""

    id: int
    subject: str
    organisation: str
    role: str
    purpose: str
    record_type: str
    record_id: str
    controller: str = Field(description="The organisation responsible for the record")
    outcome: str = Field(description="`granted`, or `refused` for an attempt that was turned "
                                     "down (then `fields` is empty)")
    fields: list[str]
    at: datetime
    prev_hash: str
    entry_hash: str

    role_label: ClassVar[Any] = code_label("role", "role")

    purpose_label: ClassVar[Any] = code_label("purpose", "read-purpose", "purpose",
                                           note=" (a read or a referral purpose)")

    outcome_label: ClassVar[Any] = code_label("outcome", "access-outcome")


class AccessLogPage(Body):
    items: list[AccessLogEntryRead]
    next_cursor: str | None


class ChainVerification(Body):
    """Whether the log is intact: keyed hashes, links and the latest checkpoint kept outside
    the database. Counts and entry ids are only of your organisation's entries."""

    valid: bool
    checked: int = Field(description="Your organisation's entries (read by it or about its "
                                     "records) that the verified chain covers")
    first_bad_entry_id: int | None = Field(
        description="The first entry that failed, if it is one of your organisation's")
    reason: str | None
    head: str = Field(description="The keyed hash of the last entry verified")
    checkpoint_at: datetime | None = Field(
        description="When the latest checkpoint the chain was compared with was taken "
                    "(kept outside the database); null if none was taken yet")
    full: bool = Field(description="Walked from the first entry (`full=true`), not from the "
                                   "last verified checkpoint")
