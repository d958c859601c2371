"""What the publisher reads and writes: the dirty marks and what was last published per area."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import DirtyArea, PublishedIndicators
from shared.db import upsert_statement


async def dirty_marks(session: AsyncSession) -> list[tuple[str, datetime]]:
    return [(code, at) for code, at in
            (await session.execute(select(DirtyArea.code, DirtyArea.marked_at))).all()]


async def any_dirty(session: AsyncSession) -> bool:
    return await session.scalar(select(DirtyArea.code).limit(1)) is not None


async def last_digests(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    """The digest of what was last published of each of `codes` (absent: never), read in
    pages of 500 codes."""
    table = cast(Table, PublishedIndicators.__table__)
    out: dict[str, str] = {}
    for i in range(0, len(codes), 500):
        rows = await session.execute(select(table.c.code, table.c.digest)
                                     .where(table.c.code.in_(codes[i:i + 500])))
        out.update((code, digest) for code, digest in rows)
    return out


async def record_published(session: AsyncSession, published: Sequence[tuple[str, str, str]],
                           at: datetime) -> None:
    """(code, period, digest) of each area just published, in one statement."""
    await session.execute(
        upsert_statement(session, PublishedIndicators, on=("code",),
                         update=("period", "digest", "published_at")),
        [{"code": code, "period": period, "digest": digest, "published_at": at}
         for code, period, digest in published])


async def clear_marks(session: AsyncSession, marks: Sequence[tuple[str, datetime]]) -> None:
    if not marks:
        return
    table = cast(Table, DirtyArea.__table__)  # Core: one statement for every mark
    # A mark made after it was read stays for the next round.
    await session.execute(
        table.delete().where(table.c.code == bindparam("mark_code"),
                             table.c.marked_at <= bindparam("mark_at")),
        [{"mark_code": code, "mark_at": at} for code, at in marks])
