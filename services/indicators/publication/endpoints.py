"""Full snapshots of every area's published indicators, on demand."""

from __future__ import annotations

from fastapi import APIRouter

from services.indicators.dependencies import (
    Admin,
    AreasPerPartDep,
    CacheDep,
    EventSourceDep,
    PeriodQuery,
    bounded_period,
)
from services.indicators.publication import service
from services.indicators.publication.schemas import SnapshotAccepted
from shared.runtime import SessionDep

router = APIRouter(tags=["indicators"])


@router.post("/indicator-snapshots", response_model=SnapshotAccepted, status_code=202)
async def publish_snapshot(
    session: SessionDep, source: EventSourceDep, areas_per_part: AreasPerPartDep,
    cache: CacheDep, principal: Admin, period: PeriodQuery = None,
) -> SnapshotAccepted:
    """Publish every area's disclosure-controlled indicators as a snapshot in parts."""
    chosen = await bounded_period(cache, period)
    computation = await cache.get(chosen)
    snapshot_id, parts, areas = service.publish_snapshot(session, computation, source,
                                                         areas_per_part)
    return SnapshotAccepted(snapshot_id=snapshot_id, period=str(chosen), parts=parts,
                            areas=areas)
