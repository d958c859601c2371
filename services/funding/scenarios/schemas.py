"""The wire shapes of scenarios, their lines and comparisons."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field, computed_field

from services.funding.inputs.schemas import SnapshotArea
from services.funding.lines import AllocationLine
from services.funding.models import ScenarioStatus
from services.funding.programmes.schemas import Camel, FormulaOverride
from shared.i18n import label

#: The label of a scenario's status, in the language of the answer.
STATUS_LABEL = ("The label of status in the language of the answer (Content-Language): "
                "Concept, Goedgekeurd, Gepubliceerd / Draft, Approved, Published")


class StatusLabelled(Camel):
    status: ScenarioStatus

    @computed_field(description=STATUS_LABEL)  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str | None:
        return label("scenario-status", self.status)

__all__ = [
    "AllocationLine",
    "AllocationLinePage",
    "ApprovalRecord",
    "AreaDifference",
    "CellTotal",
    "Comparison",
    "ScenarioCreate",
    "ScenarioEdit",
    "ScenarioPage",
    "ScenarioRead",
    "ScenarioSummary",
    "SnapshotArea",
    "VersionList",
    "VersionSummary",
]


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


class VersionSummary(Camel):
    version: int
    reason: str
    total_cents: int
    area_count: int
    method_versions: str
    computed_at: datetime


class CellTotal(Camel):
    """One pool x theme x year cell of a scenario version."""

    pool: str
    theme: str
    year: int
    cents: int
    euros: str


class AllocationLinePage(Camel):
    """One page of a version's lines in pool, theme, year and area order."""

    version: int
    items: list[AllocationLine]
    next_cursor: str | None = Field(description="null on the last page")


class VersionList(Camel):
    items: list[VersionSummary] = Field(description="Oldest first")


class ApprovalRecord(Camel):
    """What an approver approved, as it was at that moment."""

    version: int
    approved_by: str
    approved_at: datetime
    pinned_inputs_digest: str | None = Field(
        description="sha256 of the pinned indicator values approved; null: not pinned")
    pinned_area_codes: list[str] = Field(description="The areas whose values were pinned")
    overrides: list[FormulaOverride] = Field(description="The formula overrides approved")


class ScenarioRead(StatusLabelled):
    id: UUID
    programme_id: UUID
    name: str
    status: ScenarioStatus
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
    totals: list[CellTotal] = Field(description="What each pool gives each theme in each "
                                    "year; the lines are at /scenarios/{scenarioId}/lines")


class ScenarioSummary(StatusLabelled):
    id: UUID
    name: str
    status: ScenarioStatus
    version: int


class ScenarioPage(Camel):
    """One page of a programme's scenarios, oldest first."""

    items: list[ScenarioSummary]
    next_cursor: str | None = Field(description="null on the last page")


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
