"""Indicators on the wire (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.indicators.register.schemas import Schema


class IndicatorDefinitionOut(Schema):
    """What an indicator measures and how it is made."""

    id: str
    name: str
    unit: str
    source: str = Field(description="signal-stream | cbs-kerncijfers")
    direction: str = Field(description="higher-is-worse | lower-is-worse")
    domain: str | None = Field(description="Domain in the vulnerability index; null: not used")
    method_version: str


class IndicatorDefinitionList(Schema):
    items: list[IndicatorDefinitionOut]


class IndicatorValueOut(Schema):
    """A value, or null with why it is withheld (null without a reason: unknown)."""

    indicator_id: str
    value: float | None
    suppressed: bool
    reason: str | None = Field(description="small-count | small-denominator | secondary")


class VulnerabilityIndexOut(Schema):
    """A buurt's composite vulnerability index (rank 1 and decile 10 = most vulnerable)."""

    area_code: str
    score: float | None
    rank: int | None
    decile: int | None
    alternative_ranks: dict[str, int | None] = Field(
        description="Rank under each alternative normalisation (min-max, percentile-rank)")
    method_version: str


class AreaIndicatorsOut(Schema):
    """An area's indicators for one period; disclosure-controlled unless `raw` is true."""

    area_code: str
    level: str
    period: str
    method_version: str
    raw: bool = Field(description="True for admins: values without disclosure control")
    data_until: datetime | None = Field(
        default=None, description="A final period's figures count the signals recorded "
        "before this moment only (they no longer change); null: every signal so far")
    values: list[IndicatorValueOut]
    vulnerability_index: VulnerabilityIndexOut | None


class RankedValue(IndicatorValueOut):
    area_code: str
    rank: int | None = Field(description="1 = worst; null when the value is withheld")


class IndicatorRanking(Schema):
    """Areas of one level ranked on one indicator, worst first; withheld values last: the
    whole ranking, or with `limit` a page of it (pass `nextCursor` as `cursor` with the same
    parameters for the next page; a ranking that changes between pages can repeat or skip
    an area)."""

    indicator_id: str
    level: str
    period: str
    method_version: str
    raw: bool
    data_until: datetime | None = Field(
        default=None, description="As in an area's indicators: signals recorded before this "
        "moment only; null: every signal so far")
    items: list[RankedValue]
    next_cursor: str | None = Field(default=None, description=(
        "With `limit`: pass as `cursor` for the next page; null on the last page and for "
        "the whole ranking"))


class SeriesPoint(Schema):
    period: str
    value: float | None
    suppressed: bool
    reason: str | None


class IndicatorSeries(Schema):
    """One page of an indicator of one area over consecutive periods, oldest first; pass
    `nextCursor` as `cursor` (with the same `until` and `count`) for the next page."""

    area_code: str
    indicator_id: str
    method_version: str
    raw: bool
    items: list[SeriesPoint] = Field(description="This page's periods, oldest first")
    points: list[SeriesPoint] = Field(
        deprecated=True, description="The same as `items` (kept for earlier clients)")
    next_cursor: str | None = Field(description="null on the last page")


class RankStabilityOut(Schema):
    """How much the ranks depend on the method: one alternative normalisation against the
    z-score ranks, over every ranked buurt. Made from the ranks of published values only."""

    method: str = Field(description="min-max | percentile-rank")
    spearman: float | None = Field(
        description="Spearman rank correlation with the z-score ranks; null under 2 buurten")
    max_abs_rank_shift: int = Field(description="Largest move of one buurt, in ranks")
    median_abs_rank_shift: float = Field(description="Median move of a buurt, in ranks")
    share_same_decile: float | None = Field(
        description="Share of the buurten that keep their decile; null without ranked buurten")


class VulnerabilityIndexList(Schema):
    level: str
    period: str
    method_version: str
    items: list[VulnerabilityIndexOut]
    rank_stability: list[RankStabilityOut] = Field(description=(
        "Per alternative method (see alternativeRanks): how stable the ranking is"))


class AreaSignalCounts(Schema):
    """Signals of an area by category; counts are disclosure-controlled unless admin."""

    area_code: str
    signals: int | None
    by_category: dict[str, int | None]
    raw: bool
    organisation: str | None = Field(
        default=None, description="Whose signals are counted: for those who record signals "
        "their own organisation's; null: every organisation's")
