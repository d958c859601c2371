"""SQL of the reporting use case beyond the full computation."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import SignalFact


async def signals_by_category(session: AsyncSession, area_code: str) -> dict[str, int]:
    """All signals of one buurt that are not erased, by category."""
    rows = await session.execute(
        select(SignalFact.category, func.count()).where(SignalFact.area_code == area_code)
        .group_by(SignalFact.category).order_by(SignalFact.category))
    return {str(category): int(n) for category, n in rows}
