"""The access log: appended under the head row's lock, read in chain order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog.chain import (
    GENESIS_HASH,
    AccessLogEntry,
    AccessOutcome,
    ChainedAccessLogEntry,
    ChainPosition,
    link,
)
from services.signals.models import AccessLogHead, AccessLogRow, AccessLogVerified
from shared.auth import Principal
from shared.db import utcnow

HEAD_ID = 1
VERIFIED_ID = 1
#: Entries read per query while verifying: memory stays bounded however long the log is.
PAGE_SIZE = 1000


async def append(
    session: AsyncSession, principal: Principal, *, key: bytes, role: str, purpose: str,
    record_type: str, record_id: uuid.UUID | str, fields: Sequence[str], controller: str,
    outcome: str = AccessOutcome.GRANTED,
) -> AccessLogRow:
    """Log a read of personal data (or, `outcome="refused"`, an attempt; its `fields` are
    empty) in the caller's transaction. O(1): the head row holds the last hash and sequence."""
    head = await session.scalar(
        select(AccessLogHead).where(AccessLogHead.id == HEAD_ID).with_for_update())
    if head is None:
        head = AccessLogHead(id=HEAD_ID, head=GENESIS_HASH, sequence=0)
        session.add(head)
    entry = AccessLogEntry(
        sequence=head.sequence + 1, subject=principal.subject,
        organisation=principal.organisation, role=role, purpose=purpose,
        record_type=record_type, record_id=str(record_id), controller=controller,
        outcome=AccessOutcome(outcome), fields=tuple(fields), at=utcnow(),
    )
    chained = link(key, head.head, entry)
    row = AccessLogRow(
        sequence=chained.sequence, subject=chained.subject, organisation=chained.organisation,
        role=chained.role, purpose=chained.purpose, record_type=chained.record_type,
        record_id=chained.record_id, fields=orjson.dumps(list(chained.fields)).decode(),
        at=chained.at, controller=chained.controller, outcome=chained.outcome.value,
        prev_hash=chained.prev_hash, entry_hash=chained.entry_hash,
    )
    session.add(row)
    head.head, head.sequence = chained.entry_hash, chained.sequence
    return row


def to_entry(row: AccessLogRow) -> ChainedAccessLogEntry:
    return ChainedAccessLogEntry(
        sequence=row.sequence, subject=row.subject, organisation=row.organisation,
        role=row.role, purpose=row.purpose, record_type=row.record_type,
        record_id=row.record_id, controller=row.controller, outcome=AccessOutcome(row.outcome),
        fields=tuple(orjson.loads(row.fields)), at=row.at,
        prev_hash=row.prev_hash, entry_hash=row.entry_hash,
    )


def _visible(organisation: str) -> ColumnElement[bool]:
    """Entries a privacy officer may see: reads of their records, or by their organisation."""
    return (AccessLogRow.controller == organisation) | (AccessLogRow.organisation == organisation)


def visible_to(organisation: str) -> Select[AccessLogRow]:
    return select(AccessLogRow).where(_visible(organisation))


async def search(
    session: AsyncSession, organisation: str, *, record_ids: Sequence[str] | None = None,
    subject: str | None = None, reader_organisation: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    after_id: int | None = None, limit: int = 100,
) -> list[AccessLogRow]:
    query = visible_to(organisation)
    if record_ids is not None:
        query = query.where(AccessLogRow.record_id.in_(record_ids))
    if subject:
        query = query.where(AccessLogRow.subject == subject)
    if reader_organisation:
        query = query.where(AccessLogRow.organisation == reader_organisation)
    if since:
        query = query.where(AccessLogRow.at >= since)
    if until:
        query = query.where(AccessLogRow.at < until)
    if after_id is not None:
        query = query.where(AccessLogRow.id > after_id)
    return list((await session.scalars(query.order_by(AccessLogRow.id).limit(limit))).all())


async def head(session: AsyncSession) -> ChainPosition:
    row = await session.get(AccessLogHead, HEAD_ID)
    return ChainPosition(row.sequence, row.head) if row else ChainPosition()


async def entries_after(
    session: AsyncSession, sequence: int, *, until: int,
) -> AsyncIterator[list[AccessLogRow]]:
    """The chain after `sequence` up to `until`, in pages (keyset, so each page is one
    index range scan)."""
    while sequence < until:
        page = list(await session.scalars(
            select(AccessLogRow)
            .where(AccessLogRow.sequence > sequence, AccessLogRow.sequence <= until)
            .order_by(AccessLogRow.sequence).limit(PAGE_SIZE)))
        if not page:
            return
        yield page
        for row in page:  # verified rows are not kept in the identity map
            session.expunge(row)
        sequence = page[-1].sequence


async def entry_at(session: AsyncSession, sequence: int) -> AccessLogRow | None:
    return await session.scalar(select(AccessLogRow).where(AccessLogRow.sequence == sequence))


async def count_visible(session: AsyncSession, organisation: str, *, up_to: int) -> int:
    """How many of the chain's first `up_to` entries the organisation's officer may see."""
    count = await session.scalar(select(func.count()).select_from(AccessLogRow).where(
        _visible(organisation), AccessLogRow.sequence <= up_to))
    return int(count or 0)


async def verified(session: AsyncSession) -> AccessLogVerified | None:
    return await session.get(AccessLogVerified, VERIFIED_ID)


async def store_verified(session: AsyncSession, sequence: int, head: str, mac: str, *,
                         replace: bool = False) -> None:
    """Move the verified position forward (not back: two verifications may overlap), or after
    a full verification `replace` it, whatever it was (it may have been tampered with)."""
    row = await session.get(AccessLogVerified, VERIFIED_ID, with_for_update=True)
    if row is None:
        try:
            async with session.begin_nested():
                session.add(AccessLogVerified(id=VERIFIED_ID, sequence=sequence, head=head,
                                              verified_at=utcnow(), mac=mac))
        except IntegrityError:
            pass  # a verification running beside this one stored it first: as good
    elif replace or sequence > row.sequence:
        row.sequence, row.head, row.verified_at, row.mac = sequence, head, utcnow(), mac
