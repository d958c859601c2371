"""The access log: appended under the head row's lock, read in id order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import AccessLogHead, AccessLogRow
from services.signals.privacy import (
    GENESIS_HASH,
    AccessLogEntry,
    ChainedAccessLogEntry,
    link,
)
from shared.auth import Principal
from shared.db import utcnow

HEAD_ID = 1


async def append(
    session: AsyncSession, principal: Principal, *, role: str, purpose: str, record_type: str,
    record_id: uuid.UUID | str, fields: Sequence[str], controller: str,
) -> AccessLogRow:
    """Log a read of personal data in the caller's transaction (no-op for no fields)."""
    head = await session.scalar(
        select(AccessLogHead).where(AccessLogHead.id == HEAD_ID).with_for_update())
    if head is None:
        head = AccessLogHead(id=HEAD_ID, head=GENESIS_HASH)
        session.add(head)
    entry = AccessLogEntry(
        subject=principal.subject, organisation=principal.organisation, role=role,
        purpose=purpose, record_type=record_type, record_id=str(record_id),
        fields=tuple(fields), at=utcnow(),
    )
    chained = link(head.head, entry)
    row = AccessLogRow(
        subject=chained.subject, organisation=chained.organisation, role=chained.role,
        purpose=chained.purpose, record_type=chained.record_type, record_id=chained.record_id,
        fields=orjson.dumps(list(chained.fields)).decode(), at=chained.at,
        controller=controller, prev_hash=chained.prev_hash, entry_hash=chained.entry_hash,
    )
    session.add(row)
    head.head = chained.entry_hash
    return row


def to_entry(row: AccessLogRow) -> ChainedAccessLogEntry:
    return ChainedAccessLogEntry(
        subject=row.subject, organisation=row.organisation, role=row.role, purpose=row.purpose,
        record_type=row.record_type, record_id=row.record_id,
        fields=tuple(orjson.loads(row.fields)), at=row.at,
        prev_hash=row.prev_hash, entry_hash=row.entry_hash,
    )


def visible_to(organisation: str) -> Select[AccessLogRow]:
    """Entries a privacy officer may see: reads of their records, or by their organisation."""
    return select(AccessLogRow).where(
        (AccessLogRow.controller == organisation) | (AccessLogRow.organisation == organisation))


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


async def whole_chain(session: AsyncSession) -> list[AccessLogRow]:
    return list((await session.scalars(select(AccessLogRow).order_by(AccessLogRow.id))).all())
