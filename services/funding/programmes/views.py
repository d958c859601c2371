"""Programmes and their history as response bodies."""

from __future__ import annotations

from services.funding import audit
from services.funding.models import AuditEntry, Programme
from services.funding.programmes import repository
from services.funding.programmes.schemas import History, HistoryEntry, ProgrammeRead, YearTotal


def programme_read(programme: Programme) -> ProgrammeRead:
    definition = repository.definition_of(programme)
    pools, years = definition.pools, definition.years
    per_pool = [p.amounts(years) for p in pools]
    return ProgrammeRead(
        id=programme.id, name=programme.name, currency="EUR", first_year=years.start,
        last_year=years.stop - 1, pools=pools, indicator_periods=definition.indicator_periods,
        annual_total_cents=sum(p.annual_amount_cents for p in pools),
        year_totals=[YearTotal(year=y, cents=sum(a[y] for a in per_pool)) for y in years],
        organisation=programme.organisation, pools_edited_by=programme.pools_edited_by,
        created_by=programme.created_by, created_at=programme.created_at,
    )


def history(entries: list[AuditEntry]) -> History:
    return History(items=[
        HistoryEntry(action=e.action, actor=e.actor, at=e.at, scenario_id=e.scenario_id,
                     detail=audit.detail_of(e))
        for e in entries
    ])
