"""Marking draft scenarios for recomputation when the inputs they used change."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import Scenario, ScenarioInput, ScenarioStatus


async def mark_drafts_stale(session: AsyncSession, area_codes: Sequence[str]) -> None:
    """Flag unpinned drafts that used any of `area_codes`; the recompute worker debounces."""
    used = select(ScenarioInput.scenario_id).where(ScenarioInput.area_code.in_(area_codes))
    await session.execute(
        update(Scenario)
        .where(Scenario.status == ScenarioStatus.DRAFT, Scenario.snapshot_json.is_(None),
               Scenario.id.in_(used))
        .values(stale=True)
    )
