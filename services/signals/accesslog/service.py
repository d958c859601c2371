"""Verifying the access log: incrementally, against the latest checkpoint outside the database.

A run starts where the last one found the chain to match a checkpoint (the verified position,
keyed so it cannot be moved forward without the key), first checks that this entry is still
there with the same hash, then walks the entries after it page by page up to the head, and
compares the chain with the latest checkpoint in Kafka and with the head row. Whatever was
appended since the last checkpoint is walked again each time until a newer checkpoint covers
it. `full` walks from the first entry: an entry before the verified position altered in place
(its hash left alone) is found only so, so run it now and then (it streams, in bounded memory).

A privacy officer sees whether the chain holds, and counts and entry ids only of their own
organisation: how much other organisations read is none of theirs.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog import checkpoints, repository
from services.signals.accesslog.chain import (
    ALTERED,
    GENESIS,
    ChainPosition,
    ChainWalk,
    chain_hash,
    position_mac,
)
from services.signals.accesslog.schemas import ChainVerification
from services.signals.models import AccessLogRow
from services.signals.settings import Settings
from shared.contracts.signals import AccessLogCheckpointed


@dataclass(frozen=True)
class _Failure:
    reason: str
    row: AccessLogRow | None = None


async def verify(
    session: AsyncSession, settings: Settings, key: bytes, organisation: str, *, full: bool,
) -> ChainVerification:
    # The checkpoint first: the head read after it is at or past it. Appends after the head
    # was read are left to the next run.
    checkpoint = await checkpoints.latest(settings)
    head = await repository.head(session)
    start = GENESIS if full else await _resume_point(session, key)
    if isinstance(start, _Failure):
        return await _answer(session, organisation, start, GENESIS, checkpoint, full)
    target = checkpoints.position(checkpoint) if checkpoint else None
    walk = ChainWalk(key, start, target)
    async for page in repository.entries_after(session, start.sequence, until=head.sequence):
        for row in page:
            if not walk.feed(repository.to_entry(row)):
                return await _answer(session, organisation, _Failure(walk.reason or "", row),
                                     walk.position, checkpoint, full)
    failure = await _compare_ends(session, key, walk, head, target)
    if failure is None and target and target.sequence > start.sequence:
        await repository.store_verified(session, target.sequence, target.head,
                                        position_mac(key, target), replace=full)
    return await _answer(session, organisation, failure, walk.position, checkpoint, full)


async def _resume_point(session: AsyncSession, key: bytes) -> ChainPosition | _Failure:
    """The verified position, if it and the entry there are as they were when verified."""
    stored = await repository.verified(session)
    if stored is None:
        return GENESIS
    position = ChainPosition(stored.sequence, stored.head)
    if not hmac.compare_digest(position_mac(key, position), stored.mac):
        return _Failure(VERIFIED_POSITION_ALTERED)
    row = await repository.entry_at(session, position.sequence)
    if row is None or not _intact(key, row, position.head):
        return _Failure(VERIFIED_ENTRY_GONE, row)
    return position


def _intact(key: bytes, row: AccessLogRow, expected_hash: str) -> bool:
    entry = repository.to_entry(row)
    return row.entry_hash == expected_hash and hmac.compare_digest(
        chain_hash(key, row.prev_hash, entry.chain_fields()), row.entry_hash)


async def _compare_ends(session: AsyncSession, key: bytes, walk: ChainWalk,
                        head: ChainPosition, checkpoint: ChainPosition | None,
                        ) -> _Failure | None:
    if walk.position != head:
        return _Failure(HEAD_MISMATCH)
    if not walk.finish():
        return _Failure(walk.reason or "")
    if checkpoint and checkpoint.sequence <= walk.position.sequence and checkpoint.sequence:
        # At or before where this run started: one row to look at.
        row = await repository.entry_at(session, checkpoint.sequence)
        if row is None or not _intact(key, row, checkpoint.head):
            return _Failure(ALTERED if row else HEAD_MISMATCH, row)
    return None


async def _answer(
    session: AsyncSession, organisation: str, failure: _Failure | None, end: ChainPosition,
    checkpoint: AccessLogCheckpointed | None, full: bool,
) -> ChainVerification:
    bad = failure.row if failure else None
    visible = bad is not None and organisation in (bad.controller, bad.organisation)
    return ChainVerification(
        valid=failure is None,
        checked=await repository.count_visible(session, organisation, up_to=end.sequence),
        first_bad_entry_id=bad.id if bad is not None and visible else None,
        reason=failure.reason if failure else None,
        head=end.head,
        checkpoint_at=checkpoint.checkpointed_at if checkpoint else None,
        full=full,
    )


VERIFIED_POSITION_ALTERED = (
    "the record of where the last verification ended was altered: run a full verification"
)
VERIFIED_ENTRY_GONE = (
    "an entry verified before was removed or rewritten: the chain was rewritten"
)
HEAD_MISMATCH = (
    "the chain does not end where its head says: entries were removed from the end or the "
    "chain was rewritten"
)
