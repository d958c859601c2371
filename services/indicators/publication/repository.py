"""What the publisher reads and writes: the dirty marks and what was last published per area."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import DirtyArea, PublishedIndicators


async def dirty_marks(session: AsyncSession) -> list[tuple[str, datetime]]:
    return [(code, at) for code, at in
            (await session.execute(select(DirtyArea.code, DirtyArea.marked_at))).all()]


async def any_dirty(session: AsyncSession) -> bool:
    return await session.scalar(select(DirtyArea.code).limit(1)) is not None


async def last_published(session: AsyncSession, codes: Sequence[str]
                         ) -> dict[str, PublishedIndicators]:
    """What was last published of each of `codes` (absent: never), in pages of 500."""
    out: dict[str, PublishedIndicators] = {}
    for i in range(0, len(codes), 500):
        rows = await session.scalars(select(PublishedIndicators).where(
            PublishedIndicators.code.in_(codes[i:i + 500])))
        out.update((row.code, row) for row in rows)
    return out


def record_published(session: AsyncSession, last: PublishedIndicators | None, code: str,
                     period: str, digest: str, at: datetime) -> None:
    if last is None:
        session.add(PublishedIndicators(code=code, period=period, digest=digest,
                                        published_at=at))
    else:
        last.period, last.digest, last.published_at = period, digest, at


async def clear_marks(session: AsyncSession, marks: Sequence[tuple[str, datetime]]) -> None:
    if not marks:
        return
    table = cast(Table, DirtyArea.__table__)  # Core: one statement for every mark
    # A mark made after it was read stays for the next round.
    await session.execute(
        table.delete().where(table.c.code == bindparam("mark_code"),
                             table.c.marked_at <= bindparam("mark_at")),
        [{"mark_code": code, "mark_at": at} for code, at in marks])
