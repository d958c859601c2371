"""The area register: import of CBS Kerncijfers, edits by admins, and the area events.

Parents are derived from the codes (areacodes) and must be registered, or be in the same
import file; NL00 is created on demand as the root. Every change to an area writes an
`area-upserted` event to the outbox in the same transaction, and a changed buurt is marked
dirty so its indicators (whose denominators may have moved) are published again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.cbs_cells import StatName
from services.indicators.cbs_csv import (
    FileTooLarge,
    MalformedFile,
    ParseResult,
    decode_kerncijfers,
    parse_kerncijfers,
)
from services.indicators.models import Area, AreaStatistics, ProgrammeArea
from services.indicators.publication.outbox import record_with_nulls
from services.indicators.register import repository as repo
from services.indicators.register.schemas import (
    AreaIn,
    AreaOut,
    AreaStatisticsYear,
    ImportReport,
    ProgrammeAreaIn,
    ProgrammeAreaOut,
    RejectedRowOut,
)
from services.indicators.snapshots import store as snapshot_store
from services.indicators.stream.service import mark_dirty
from shared.areacodes import (
    NATIONAL_CODE,
    AreaLevel,
    InvalidAreaCode,
    is_valid_buurt_code,
    parse_area_code,
)
from shared.contracts import areas as contract
from shared.db import utcnow
from shared.problems import BadRequest, NotFound, PayloadTooLarge, Unprocessable

STAT_COLUMN: Mapping[StatName, str] = {
    StatName.INHABITANTS: "inhabitants", StatName.HOUSEHOLDS: "households",
    StatName.DWELLINGS: "dwellings", StatName.CORPORATION_DWELLINGS: "corporation_dwellings",
    StatName.CORPORATION_DWELLINGS_PCT: "corporation_dwellings_pct",
    StatName.MEAN_WOZ_VALUE: "mean_woz_value",
    StatName.LOW_INCOME_HOUSEHOLDS_PCT: "low_income_households_pct",
    StatName.BIJSTAND_RECIPIENTS: "bijstand_recipients", StatName.WW_RECIPIENTS: "ww_recipients",
    StatName.AO_RECIPIENTS: "ao_recipients",
    StatName.LABOUR_PARTICIPATION_PCT: "labour_participation_pct",
    StatName.YOUTH_CARE_PCT: "youth_care_pct",
}


async def import_kerncijfers(session: AsyncSession, data: bytes, year: int, source: str
                             ) -> ImportReport:
    """Upsert every valid row of a Kerncijfers file; a file that cannot be read changes nothing."""
    try:
        # In a worker thread: a national file takes seconds to read, and reads go on meanwhile.
        parsed = await asyncio.to_thread(_parse, data, year)
    except FileTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except (MalformedFile, ValueError) as exc:
        raise BadRequest(f"the file cannot be imported: {exc}") from exc
    codes = [r.code for r in parsed.rows]
    existing = await repo.areas_by_code(session, [*codes, NATIONAL_CODE])
    known = set(existing) | set(codes) | {NATIONAL_CODE}
    rejected = [RejectedRowOut(line=r.line, code=r.code, reasons=r.reasons)
                for r in parsed.rejected]
    accepted = []
    for row in parsed.rows:
        if row.parent_code is not None and row.parent_code not in known:
            rejected.append(RejectedRowOut(line=row.line, code=row.code, reasons=[
                f"parent {row.parent_code} is neither registered nor in the file"]))
        else:
            accepted.append(row)
    if any(r.parent_code == NATIONAL_CODE for r in accepted) and (
            NATIONAL_CODE not in existing and NATIONAL_CODE not in codes):
        existing[NATIONAL_CODE] = await _new_area(session, NATIONAL_CODE, "Nederland", False)
    current = await repo.statistics_for_year(session, codes, year)
    imported = updated = unchanged = 0
    changed: list[Area] = []
    for row in accepted:
        values = {STAT_COLUMN[s]: v for s, v in row.stats.items()}
        name = row.name or (row.municipality_name if row.level is AreaLevel.GEMEENTE else None)
        area = existing.get(row.code)
        if area is None:
            area = existing[row.code] = await _new_area(session, row.code, name or row.code,
                                                        False)
        stats = current.get(row.code)
        if stats is None:
            session.add(AreaStatistics(code=row.code, year=year, **values))
            imported += 1
        elif any(getattr(stats, k) != v for k, v in values.items()) or (
                name is not None and name != area.name):
            for key, value in values.items():
                setattr(stats, key, value)
            updated += 1
        else:
            unchanged += 1
            continue
        if name is not None:
            area.name = name
        area.updated_at = utcnow()
        changed.append(area)
    await session.flush()
    await _announce(session, changed, source)
    return ImportReport(year=year, imported=imported, updated=updated, unchanged=unchanged,
                        rejected=sorted(rejected, key=lambda r: r.line),
                        missing_statistics=[s.value for s in parsed.missing_stats])


def _parse(data: bytes, year: int) -> ParseResult:
    return parse_kerncijfers(decode_kerncijfers(data), year)


async def put_area(session: AsyncSession, code: str, body: AreaIn, source: str) -> AreaOut:
    """Register or update one CBS area; its parent must be registered (NL00 is created)."""
    try:
        parsed = parse_area_code(code)
    except InvalidAreaCode as exc:
        raise BadRequest(str(exc)) from exc
    if not parsed.is_cbs:
        raise BadRequest("programme areas are edited at /programme-areas/{id}")
    parent = parsed.parent
    if parent is not None and await repo.get_area(session, parent.code) is None:
        if parent.code != NATIONAL_CODE:
            raise Unprocessable(f"the parent {parent.code} is not registered")
        await _new_area(session, NATIONAL_CODE, "Nederland", False)
    area = await repo.get_area(session, code) or await _new_area(session, code, body.name,
                                                                 body.synthetic)
    area.name, area.synthetic, area.updated_at = body.name, body.synthetic, utcnow()
    years = {s.year: s for s in body.statistics}
    current = {s.year: s for s in (await repo.statistics_of(session, [code])).get(code, [])}
    for year, given in years.items():
        values = given.model_dump(exclude={"year"})
        if year in current:
            for key, value in values.items():
                setattr(current[year], key, value)
        else:
            session.add(AreaStatistics(code=code, year=year, **values))
    await session.flush()
    await _announce(session, [area], source)
    return (await areas_out(session, [area]))[0]


async def put_programme_area(session: AsyncSession, programme_id: str, body: ProgrammeAreaIn,
                             source: str) -> ProgrammeAreaOut:
    """Register or update a programme area; every buurt in it must be registered."""
    bad = [c for c in body.buurt_codes if not is_valid_buurt_code(c)]
    if bad:
        raise BadRequest("not buurt codes: " + ", ".join(sorted(set(bad))[:20]))
    registered = await repo.areas_by_code(session, body.buurt_codes)
    missing = sorted(set(body.buurt_codes) - set(registered))
    if missing:
        raise Unprocessable("buurten not in the register: " + ", ".join(missing[:20]))
    now = utcnow()
    programme = await repo.get_programme_area(session, programme_id)
    if programme is None:
        programme = ProgrammeArea(id=programme_id)
        session.add(programme)
    programme.name, programme.gemeente_code = body.name, body.gemeente_code
    programme.synthetic, programme.updated_at = body.synthetic, now
    await repo.replace_members(session, programme_id, body.buurt_codes)
    await session.flush()
    out = (await programme_areas_out(session, [programme]))[0]
    record_with_nulls(session, contract.PROGRAMME_AREA_UPSERTED, contract.ProgrammeAreaUpserted(
        id=out.id, name=out.name, gemeente_code=out.gemeente_code, buurt_codes=out.buurt_codes,
        synthetic=out.synthetic, updated_at=now), key=out.id, source=source)
    for buurt in out.buurt_codes:
        await mark_dirty(session, buurt, snapshot_store.ALL)
    return out


async def get_area(session: AsyncSession, code: str) -> AreaOut:
    area = await repo.get_area(session, code)
    if area is None:
        raise NotFound(f"area {code} is not registered")
    return (await areas_out(session, [area]))[0]


async def areas_out(session: AsyncSession, areas: Sequence[Area]) -> list[AreaOut]:
    codes = [a.code for a in areas]
    stats = await repo.statistics_of(session, codes)
    programmes = await repo.programme_ids_of(session, codes)
    return [AreaOut(
        code=a.code, level=a.level, name=a.name, parent_code=a.parent_code,
        programme_area_ids=programmes.get(a.code, []), synthetic=a.synthetic,
        statistics=[_statistics_year(s) for s in stats.get(a.code, [])], updated_at=a.updated_at,
    ) for a in areas]


async def programme_areas_out(session: AsyncSession, programmes: Sequence[ProgrammeArea]
                              ) -> list[ProgrammeAreaOut]:
    members = await repo.members_of(session, [p.id for p in programmes])
    return [ProgrammeAreaOut(id=p.id, name=p.name, gemeente_code=p.gemeente_code,
                             buurt_codes=members.get(p.id, []), synthetic=p.synthetic,
                             updated_at=p.updated_at) for p in programmes]


def _statistics_year(row: AreaStatistics) -> AreaStatisticsYear:
    values: dict[str, Any] = {k: getattr(row, k) for k in repo.STAT_COLUMNS}
    return AreaStatisticsYear(year=row.year, **values)


async def _new_area(session: AsyncSession, code: str, name: str, synthetic: bool) -> Area:
    parsed = parse_area_code(code)
    area = Area(code=code, level=parsed.level.value, name=name,
                parent_code=None if parsed.parent is None else parsed.parent.code,
                synthetic=synthetic, updated_at=utcnow())
    session.add(area)
    return area


async def _announce(session: AsyncSession, areas: Sequence[Area], source: str) -> None:
    """An area-upserted event per changed area; changed buurten get their indicators again."""
    for out in await areas_out(session, areas):
        record_with_nulls(session, contract.AREA_UPSERTED, contract.AreaUpserted(
            code=out.code, level=out.level, name=out.name, parent_code=out.parent_code,
            programme_area_ids=out.programme_area_ids, synthetic=out.synthetic,
            statistics=[contract.AreaStatistics(
                year=s.year, inhabitants=s.inhabitants, households=s.households,
                dwellings=s.dwellings, corporation_dwellings=s.corporation_dwellings)
                for s in out.statistics],
            updated_at=out.updated_at), key=out.code, source=source)
        if out.level == AreaLevel.BUURT.value:
            await mark_dirty(session, out.code, snapshot_store.ALL)
