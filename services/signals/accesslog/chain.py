"""The tamper-evident, append-only access log as a keyed hash chain.

entry_hash = HMAC-SHA256(key, "ddk-access-log-v2" NUL prev_hash canonical_json(entry)), where
the entry holds every field of the log row (`controller` and `outcome` too) and its
`sequence`, the entry's place in the chain counted from 1. The key lives outside the database
(settings), so someone who can write the database can neither alter an entry nor delete one and
re-chain the rest: they cannot compute a valid hash. A chain alone still cannot show that its
newest entries were cut off; a checkpoint of the head kept outside the database (see
`accesslog/checkpoints.py`) does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, field_validator

from services.signals.schemas_common import Frozen

GENESIS_HASH = "0" * 64
_HASH = re.compile(r"^[0-9a-f]{64}$")
_DOMAIN = b"ddk-access-log-v2\x00"
Text = Annotated[str, Field(min_length=1, max_length=200)]


class AccessOutcome(StrEnum):
    #: Personal data was shown.
    GRANTED = "granted"
    #: A read of personal data was refused (its `fields` are empty): refusals are logged too.
    REFUSED = "refused"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (not ASCII-escaped), no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(key: bytes, prev_hash: str, entry: Mapping[str, Any]) -> str:
    """HMAC-SHA256 over the previous hash and the canonical entry, as hex."""
    if not _HASH.fullmatch(prev_hash):
        raise ValueError(f"prev_hash must be 64 lower-case hex characters, got {prev_hash!r}.")
    message = _DOMAIN + prev_hash.encode("ascii") + canonical_json(entry)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def format_utc(moment: datetime) -> str:
    """The one timestamp format the chain hashes: `2025-01-31T09:05:00.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AccessLogEntry(Frozen):
    """One read of personal data (or a refused attempt): who, for which organisation, role and
    purpose, what, whose record, when, and its place in the chain."""

    sequence: int = Field(ge=1)
    subject: Text
    organisation: Text
    role: Text
    purpose: Text
    record_type: Text
    record_id: Text
    #: The organisation responsible for the record (the reporting corporation).
    controller: Text
    outcome: AccessOutcome = AccessOutcome.GRANTED
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
        """The dict that is hashed: every field in camelCase JSON, a fixed timestamp format."""
        data = self.model_dump(by_alias=True, mode="json", include=set(AccessLogEntry.model_fields))
        data["at"] = format_utc(self.at)
        return data


class ChainedAccessLogEntry(AccessLogEntry):
    prev_hash: str = Field(pattern=_HASH.pattern)
    entry_hash: str = Field(pattern=_HASH.pattern)


def link(key: bytes, prev_hash: str, entry: AccessLogEntry) -> ChainedAccessLogEntry:
    data = entry.model_dump(include=set(AccessLogEntry.model_fields))
    return ChainedAccessLogEntry(
        **data, prev_hash=prev_hash, entry_hash=chain_hash(key, prev_hash, entry.chain_fields())
    )


@dataclass(frozen=True, slots=True)
class ChainPosition:
    """A place in the chain: the entry with this sequence number has this hash (0: genesis)."""

    sequence: int = 0
    head: str = GENESIS_HASH


GENESIS = ChainPosition()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    #: Entries that verified before the first bad one (all of them when ok).
    checked: int
    first_bad_index: int | None = None
    reason: str | None = None
    #: The last entry that verified (the start if none did).
    end: ChainPosition = GENESIS

    @property
    def head(self) -> str:
        return self.end.head


class ChainWalk:
    """Verifies a chain entry by entry, from a known position: the streaming form of
    `verify_chain`, so a long log is checked page by page in bounded memory."""

    def __init__(self, key: bytes, start: ChainPosition = GENESIS,
                 checkpoint: ChainPosition | None = None) -> None:
        self._key = key
        self.position = start
        self.checked = 0
        self.reason: str | None = None
        # A checkpoint at or before the start was checked when the start was verified.
        self._checkpoint = checkpoint if checkpoint and checkpoint.sequence > start.sequence \
            else None

    def feed(self, entry: ChainedAccessLogEntry) -> bool:
        """Check the next entry; False (and `reason`) at the first that does not verify."""
        if entry.sequence != self.position.sequence + 1 or entry.prev_hash != self.position.head:
            self.reason = BROKEN_LINK
        elif not hmac.compare_digest(
                chain_hash(self._key, self.position.head, entry.chain_fields()),
                entry.entry_hash):
            self.reason = ALTERED
        elif (cp := self._checkpoint) and cp.sequence == entry.sequence \
                and cp.head != entry.entry_hash:
            self.reason = NOT_CHECKPOINTED
        if self.reason:
            return False
        self.position = ChainPosition(entry.sequence, entry.entry_hash)
        self.checked += 1
        return True

    def finish(self) -> bool:
        """After the last entry: False if the chain ends before the checkpoint."""
        if self.reason is None and self._checkpoint \
                and self.position.sequence < self._checkpoint.sequence:
            self.reason = ENDS_BEFORE_CHECKPOINT
        return self.reason is None


def verify_chain(
    entries: Iterable[ChainedAccessLogEntry],
    *,
    key: bytes,
    start: ChainPosition = GENESIS,
    checkpoint: ChainPosition | None = None,
) -> VerifyResult:
    """Check sequence numbers, links and keyed hashes in order.

    `checkpoint`, a head published earlier outside the database, must occur in the chain:
    without it a cut-off tail goes unnoticed. `start` verifies a window after genesis.
    """
    walk = ChainWalk(key, start, checkpoint)
    for index, entry in enumerate(entries):
        if not walk.feed(entry):
            return VerifyResult(False, walk.checked, index, walk.reason, walk.position)
    if not walk.finish():
        return VerifyResult(False, walk.checked, walk.checked, walk.reason, walk.position)
    return VerifyResult(True, walk.checked, None, None, walk.position)


BROKEN_LINK = (
    "prev_hash or sequence does not follow the previous entry: entries were removed, "
    "inserted or reordered"
)
ALTERED = "entry_hash does not match the entry's content: the entry was altered"
NOT_CHECKPOINTED = (
    "the entry at the checkpoint's position is not the one checkpointed: the chain was "
    "rewritten"
)
ENDS_BEFORE_CHECKPOINT = (
    "the chain ends before the latest checkpoint: entries were removed from the end"
)


def position_mac(key: bytes, position: ChainPosition) -> str:
    """Keyed tag of a verified position, so it cannot be moved past unverified entries."""
    message = b"ddk-access-log-verified\x00" + f"{position.sequence}:{position.head}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
