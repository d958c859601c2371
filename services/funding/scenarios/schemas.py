"""The wire shapes of scenarios, their lines and comparisons."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

from services.funding.programmes.schemas import Camel, DecimalText, FormulaOverride


class SnapshotArea(Camel):
    """One area's indicators in a given snapshot (instead of the received ones)."""

    area_code: Annotated[str, Field(max_length=64)]
    composite_score: DecimalText | None = None
    composite_decile: Annotated[int, Field(ge=1, le=10)] | None = None
    values: dict[str, DecimalText | None] = Field(default_factory=dict)
    method_version: str = "snapshot"
    period: str = ""


class ScenarioCreate(Camel):
    id: UUID | None = Field(default=None, description="Client-generated id: replays are safe")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    overrides: list[FormulaOverride] = Field(default_factory=list)
    snapshot: list[SnapshotArea] | None = Field(
        default=None, description="Compute from these indicators; the scenario is then pinned "
        "and never recomputed when indicators change")


class ScenarioEdit(Camel):
    """A new version of a draft: new overrides (omitted: keep them), recomputed now."""

    overrides: list[FormulaOverride] | None = None


class AllocationLine(Camel):
    """One area's amount in one pool, theme and year, with how it came about."""

    pool: str
    theme: str
    year: int
    area_code: str
    area_name: str
    level: str
    base: str = Field(description="Inhabitants, households or corporation dwellings")
    need: str | None = Field(description="The area's need indicator value; null when unknown "
                             "or suppressed (then it gets no need-based money)")
    need_effective: str = Field(description="max(0, need - threshold) ** exponent; for an "
                                "indicator where lower is worse, max(0, threshold - need)")
    lambda_: str = Field(alias="lambda", description="The factor spending the pool exactly")
    unrounded_cents: str
    cents: int
    euros: str
    binding_constraint: str = Field(description="floor | cap | none")
    remainder_cent: bool = Field(description="Got one of the cents left after rounding down")
    share: str = Field(description="cents / the theme-year budget")
    euros_per_inhabitant: str | None
    indicator_method_version: str | None
    indicator_period: str | None


class VersionSummary(Camel):
    version: int
    reason: str
    total_cents: int
    area_count: int
    method_versions: str
    computed_at: datetime


class VersionList(Camel):
    versions: list[VersionSummary]


class ApprovalRecord(Camel):
    """What an approver approved, as it was at that moment."""

    version: int
    approved_by: str
    approved_at: datetime
    pinned_inputs_digest: str | None = Field(
        description="sha256 of the pinned indicator values approved; null: not pinned")
    pinned_area_codes: list[str] = Field(description="The areas whose values were pinned")
    overrides: list[FormulaOverride] = Field(description="The formula overrides approved")


class ScenarioRead(Camel):
    id: UUID
    programme_id: UUID
    name: str
    status: str = Field(description="draft | approved | published")
    version: int
    stale: bool = Field(description="Indicators changed; a recomputation is pending")
    pinned: bool = Field(description="Computed from a given snapshot; never recomputed")
    pinned_inputs: list[SnapshotArea] | None = Field(
        description="The indicator values the drafter pinned instead of the received ones: "
        "an approver checks them (null: computed from the received indicators)")
    pinned_inputs_digest: str | None = Field(
        description="sha256 of the pinned values, recorded with the approval")
    overrides: list[FormulaOverride] = Field(
        description="Changes to the programme's formulas in this scenario")
    drafted_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    approval: ApprovalRecord | None = Field(
        description="What was approved: version, pinned values and overrides")
    published_at: datetime | None
    current: VersionSummary
    lines: list[AllocationLine]


class ScenarioSummary(Camel):
    id: UUID
    name: str
    status: str
    version: int


class ScenarioList(Camel):
    scenarios: list[ScenarioSummary]


class AreaDifference(Camel):
    area_code: str
    area_name: str
    cents: int = Field(description="In the first scenario")
    other_cents: int = Field(description="In the second scenario")
    difference_cents: int = Field(description="other - first")
    difference_euros: str


class Comparison(Camel):
    scenario_id: UUID
    version: int
    other_scenario_id: UUID
    other_version: int
    total_difference_cents: int
    areas: list[AreaDifference]
