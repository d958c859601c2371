"""What the publisher reads and writes: the dirty marks and what was last published per area."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import DirtyArea, PublishedIndicators


async def dirty_marks(session: AsyncSession) -> list[tuple[str, datetime]]:
    return [(code, at) for code, at in
            (await session.execute(select(DirtyArea.code, DirtyArea.marked_at))).all()]


async def any_dirty(session: AsyncSession) -> bool:
    return await session.scalar(select(DirtyArea.code).limit(1)) is not None


async def last_published(session: AsyncSession, code: str) -> PublishedIndicators | None:
    return await session.get(PublishedIndicators, code)


def record_published(session: AsyncSession, last: PublishedIndicators | None, code: str,
                     period: str, digest: str, at: datetime) -> None:
    if last is None:
        session.add(PublishedIndicators(code=code, period=period, digest=digest,
                                        published_at=at))
    else:
        last.period, last.digest, last.published_at = period, digest, at


async def clear_marks(session: AsyncSession, marks: Sequence[tuple[str, datetime]]) -> None:
    for code, marked_at in marks:
        # A mark made after it was read stays for the next round.
        await session.execute(delete(DirtyArea).where(
            DirtyArea.code == code, DirtyArea.marked_at <= marked_at))
