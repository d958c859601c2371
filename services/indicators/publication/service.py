"""Publishing indicators on `indicators.v1`: debounced per area, and full snapshots in parts.

The consumer marks a buurt dirty in the transaction that changes its facts. A publisher tick
(every `indicator_debounce_s`) takes the dirty buurten, computes the current rolling period,
and writes one `area-indicators-updated` per affected area whose public values changed since
it was last published: the buurt, its wijk siblings (secondary suppression works per wijk),
its wijk, gemeente, the nation and the programme areas holding it. Only disclosure-controlled
values travel, with the method version. An area whose public values are what was last
published of it (by digest) gets no event: so the snapshot worker may write a publication's
events in parts, one transaction each, and clear its dirty marks with the last part.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.computation import definitions
from services.indicators.computation.engine import AreaResult, Computation, parents_of
from services.indicators.computation.periods import GRACE_DAYS, current_period
from services.indicators.computation.repository import programme_area_members
from services.indicators.computation.service import compute_period, public_cutoffs
from services.indicators.models import Outbox
from services.indicators.publication import repository
from services.indicators.publication.outbox import outbox_row_with_nulls, record_with_nulls
from shared.areacodes import AreaLevel
from shared.contracts.indicators import (
    AREA_INDICATORS_UPDATED,
    INDICATOR_SNAPSHOT_PUBLISHED,
    AreaIndicatorsUpdated,
    IndicatorSnapshotPublished,
    IndicatorValue,
)
from shared.db import try_exclusive, utcnow
from shared.outbox import note_outbox_write
from shared.tracing import current_traceparent


def area_message(result: AreaResult, computation: Computation, computed_at: datetime
                 ) -> AreaIndicatorsUpdated:
    """The public (disclosure-controlled) indicators of one area, as the contract carries them."""
    values = [
        IndicatorValue(indicator_id=d.id, value=cell.value, suppressed=cell.reason is not None,
                       reason=cell.reason)
        for d in definitions.DEFINITIONS
        for cell in (result.public_cell(d.id),)
    ]
    score = result.composite
    return AreaIndicatorsUpdated(
        area_code=result.code, level=result.level.value, period=str(computation.period),
        method_version=computation.method_version, values=values,
        composite_score=None if score is None or score.score is None else round(score.score, 4),
        composite_rank=None if score is None else score.rank,
        composite_decile=None if score is None else score.decile,
        computed_at=computed_at,
    )


def _digest(message: AreaIndicatorsUpdated) -> str:
    body = message.model_dump(mode="json", exclude={"computed_at"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def affected_areas(dirty: Iterable[str], computation: Computation,
                   programme_areas: Mapping[str, Iterable[str]]) -> list[str]:
    dirty = set(dirty)
    wijken = {"WK" + code[2:8] for code in dirty}
    out = set(dirty)
    for code, result in computation.areas.items():
        if result.level is AreaLevel.BUURT and "WK" + code[2:8] in wijken:
            out.add(code)
    for code in dirty:
        out.update(parents_of(code))
    for programme_id, buurten in programme_areas.items():
        if dirty.intersection(buurten):
            out.add(programme_id)
    return sorted(c for c in out if c in computation.areas)


@dataclass(frozen=True)
class AreaEvent:
    """One area's `area-indicators-updated`, made off the event loop: the digest of its
    public values and the outbox row that carries them."""

    code: str
    digest: str
    row: dict[str, Any]


def prepare_events(computation: Computation, dirty: Iterable[str],
                   programme_areas: Mapping[str, Iterable[str]], computed_at: datetime,
                   source: str, published: Mapping[str, str] | None = None
                   ) -> list[AreaEvent]:
    """The event of every area the dirty buurten affect (CPU only: the snapshot worker makes
    them off its rounds, `snapshots/protector.py`; `write_events` stores them), but those
    whose digest is what `published` says was last published of them."""
    published = published or {}
    events = []
    for code in affected_areas(dirty, computation, programme_areas):
        message = area_message(computation.areas[code], computation, computed_at)
        digest = _digest(message)
        if published.get(code) != digest:
            events.append(AreaEvent(code, digest, outbox_row_with_nulls(
                AREA_INDICATORS_UPDATED, message, key=code, source=source)))
    return events


async def write_events(session: AsyncSession, period: str, events: Sequence[AreaEvent],
                       published_at: datetime) -> int:
    """Write the events whose area changed since it was last published; returns how many.

    Core statements, one per table, whatever the number: a publication at national intake
    is thousands of events, written while the transaction holds SQLite's one write lock.
    Writing the same events again writes none, so they may go in several transactions.
    """
    last = await repository.last_digests(session, [e.code for e in events])
    new = [e for e in events if last.get(e.code) != e.digest]
    if not new:
        return 0
    traceparent = current_traceparent()
    await session.execute(insert(Outbox), [{**e.row, "traceparent": traceparent,
                                             "created_at": published_at} for e in new])
    note_outbox_write(session)
    await repository.record_published(
        session, [(e.code, period, e.digest) for e in new], published_at)
    return len(new)


async def publish_dirty(session: AsyncSession, source: str, now: datetime | None = None,
                        grace_days: int = GRACE_DAYS) -> int:
    """One publisher tick computing the current period itself (the snapshot worker uses
    `prepare_events` and `write_events` with the period it holds); returns how many events
    it wrote to the outbox.

    Several replicas may tick at once: one publishes, the others find the tick taken and
    return 0 (else two would read the same marks and publish every change twice).
    """
    if not await try_exclusive(session, "indicators.publisher"):
        return 0
    marks = await repository.dirty_marks(session)
    if not marks:
        return 0
    computed_at = now or utcnow()
    period = current_period(computed_at)
    computation = await compute_period(
        session, period, include=[m[0] for m in marks],
        cutoffs=public_cutoffs(period, computed_at, grace_days))
    members = await programme_area_members(session)
    events = prepare_events(computation, [m[0] for m in marks], members, computed_at, source)
    written = await write_events(session, str(period), events, computed_at)
    await repository.clear_marks(session, marks)
    return written


def publish_snapshot(session: AsyncSession, computation: Computation, source: str,
                     areas_per_part: int) -> tuple[uuid.UUID, int, int]:
    """Every area's public indicators (as stored) in parts; returns (snapshot id, parts,
    areas)."""
    computed_at = utcnow()
    snapshot_id = uuid.uuid4()
    codes = sorted(computation.areas)
    chunks = [codes[i:i + areas_per_part] for i in range(0, len(codes), areas_per_part)] or [[]]
    for part, chunk in enumerate(chunks, start=1):
        message = IndicatorSnapshotPublished(
            snapshot_id=snapshot_id, period=str(computation.period),
            method_version=computation.method_version, part=part, parts=len(chunks),
            areas=[area_message(computation.areas[c], computation, computed_at) for c in chunk],
            computed_at=computed_at,
        )
        record_with_nulls(session, INDICATOR_SNAPSHOT_PUBLISHED, message,
                     key=str(snapshot_id), source=source)
    return snapshot_id, len(chunks), len(codes)
