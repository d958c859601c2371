"""SQL of the reporting use case beyond the full computation."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import SignalFact


async def signals_by_category(session: AsyncSession, area_code: str,
                              organisation: str | None = None) -> dict[str, tuple[int, int]]:
    """All signals of one buurt that are not erased (of one organisation when given), by
    category: (count, cell key)."""
    query = (select(SignalFact.category, func.count(),
                    func.sum(func.coalesce(SignalFact.record_key, 0)))
             .where(SignalFact.area_code == area_code))
    if organisation is not None:
        query = query.where(SignalFact.organisation == organisation)
    rows = await session.execute(
        query.group_by(SignalFact.category).order_by(SignalFact.category))
    return {str(category): (int(n), int(key)) for category, n, key in rows}
