"""The tamper-evident, append-only access log as a hash chain (split from privacy.py).

entry_hash = sha256(prev_hash + canonical_json(entry)); verifying the chain shows any altered,
removed or reordered entry, and an anchor (the latest head kept outside the database) shows a
cut-off tail.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


GENESIS_HASH = "0" * 64
_HASH = re.compile(r"^[0-9a-f]{64}$")
Text = Annotated[str, Field(min_length=1, max_length=200)]


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (not ASCII-escaped), no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """`sha256(prev_hash + canonical_json(entry))` as hex; prev_hash is 64 hex characters."""
    if not _HASH.fullmatch(prev_hash):
        raise ValueError(f"prev_hash must be 64 lower-case hex characters, got {prev_hash!r}.")
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(entry)).hexdigest()


def format_utc(moment: datetime) -> str:
    """The one timestamp format the chain hashes: `2025-01-31T09:05:00.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AccessLogEntry(_Frozen):
    """One read of personal data: who, for which organisation, role and purpose, what, when."""

    subject: Text
    organisation: Text
    role: Text
    purpose: Text
    record_type: Text
    record_id: Text
    fields: tuple[Text, ...] = ()
    at: AwareDatetime

    @field_validator("fields")
    @classmethod
    def _sorted_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def chain_fields(self) -> dict[str, Any]:
        """The dict that is hashed: the camelCase JSON form with a fixed timestamp format."""
        data = self.model_dump(by_alias=True, mode="json", include=set(AccessLogEntry.model_fields))
        data["at"] = format_utc(self.at)
        return data


class ChainedAccessLogEntry(AccessLogEntry):
    prev_hash: str = Field(pattern=_HASH.pattern)
    entry_hash: str = Field(pattern=_HASH.pattern)


def link(prev_hash: str, entry: AccessLogEntry) -> ChainedAccessLogEntry:
    data = entry.model_dump(include=set(AccessLogEntry.model_fields))
    return ChainedAccessLogEntry(
        **data, prev_hash=prev_hash, entry_hash=chain_hash(prev_hash, entry.chain_fields())
    )


class AccessLogChain:
    """The head of an append-only chain. The repository appends under a lock (one writer)."""

    def __init__(self, head: str = GENESIS_HASH) -> None:
        if not _HASH.fullmatch(head):
            raise ValueError("head must be 64 lower-case hex characters.")
        self._head = head

    @property
    def head(self) -> str:
        return self._head

    def append(self, entry: AccessLogEntry) -> ChainedAccessLogEntry:
        chained = link(self._head, entry)
        self._head = chained.entry_hash
        return chained


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    #: Entries that verified before the first bad one (all of them when ok).
    checked: int
    first_bad_index: int | None = None
    reason: str | None = None
    #: The hash of the last entry that verified (the start hash if none did).
    head: str = GENESIS_HASH


def verify_chain(
    entries: Iterable[ChainedAccessLogEntry],
    *,
    start_hash: str = GENESIS_HASH,
    anchor: str | None = None,
) -> VerifyResult:
    """Check links and content hashes in order.

    A chain alone cannot show that its newest entries were cut off: pass `anchor`, a head hash
    published earlier (e.g. daily to another system), and it must occur in the chain.
    `start_hash` verifies a window that starts after genesis.
    """
    head, checked, anchor_seen = start_hash, 0, anchor == start_hash
    for index, entry in enumerate(entries):
        if entry.prev_hash != head:
            return VerifyResult(False, checked, index, _BROKEN_LINK, head)
        if chain_hash(head, entry.chain_fields()) != entry.entry_hash:
            return VerifyResult(False, checked, index, _ALTERED, head)
        head, checked = entry.entry_hash, checked + 1
        anchor_seen = anchor_seen or head == anchor
    if anchor is not None and not anchor_seen:
        return VerifyResult(False, checked, checked, _ANCHOR_MISSING, head)
    return VerifyResult(True, checked, None, None, head)


_BROKEN_LINK = (
    "prev_hash does not match the previous entry: entries were removed, inserted or reordered"
)
_ALTERED = "entry_hash does not match the entry's content: the entry was altered"
_ANCHOR_MISSING = (
    "the anchored head does not occur in the chain: entries were removed from the end "
    "or the chain was rewritten"
)
