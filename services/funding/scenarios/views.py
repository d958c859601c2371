"""Scenarios and their versions as response bodies."""

from __future__ import annotations

from services.funding.lines import euros
from services.funding.models import Scenario, ScenarioVersion
from services.funding.scenarios import repository
from services.funding.scenarios.schemas import CellTotal, ScenarioRead, VersionSummary


def version_summary(row: ScenarioVersion) -> VersionSummary:
    return VersionSummary(version=row.version, reason=row.reason, total_cents=row.total_cents,
                          area_count=row.area_count, method_versions=row.method_versions,
                          computed_at=row.computed_at)


def scenario_read(scenario: Scenario, row: ScenarioVersion,
                  totals: list[tuple[str, str, int, int]]) -> ScenarioRead:
    return ScenarioRead(
        id=scenario.id, programme_id=scenario.programme_id, name=scenario.name,
        status=scenario.status, version=row.version, stale=scenario.stale,
        pinned=scenario.snapshot_json is not None,
        pinned_inputs=repository.snapshot_of(scenario),
        pinned_inputs_digest=repository.snapshot_digest(scenario),
        overrides=repository.overrides_of(scenario),
        drafted_by=scenario.drafted_by, created_at=scenario.created_at,
        approved_by=scenario.approved_by, approved_at=scenario.approved_at,
        approval=repository.approval_of(scenario),
        published_at=scenario.published_at,
        current=version_summary(row),
        totals=[CellTotal(pool=pool, theme=theme, year=year, cents=cents, euros=euros(cents))
                for pool, theme, year, cents in totals])
