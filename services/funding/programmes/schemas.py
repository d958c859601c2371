"""The wire shapes of programmes: pools, eligibility, themes and the allocation formula."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from services.funding.catalogue import COMPOSITE_INDEX, KNOWN_INDICATORS

Cents = Annotated[int, Field(strict=True, gt=0, le=10**15, description="An amount in cents")]
OptionalCents = Annotated[int, Field(strict=True, ge=0, le=10**15)]
MONEY = Context(prec=50)
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]{1,12}(\.[0-9]{1,12})?$",
                                   description="A decimal number as a string (never a float)")]


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              extra="forbid")


class AllocationLevel(StrEnum):
    PROGRAMME_AREA = "programme-area"
    GEMEENTE = "gemeente"
    WIJK = "wijk"
    BUURT = "buurt"


class BaseKind(StrEnum):
    INHABITANTS = "inhabitants"
    HOUSEHOLDS = "households"
    CORPORATION_DWELLINGS = "corporation-dwellings"


class Eligibility(Camel):
    """Which areas a pool is for."""

    kind: Literal["programme-areas", "other-vulnerable"]
    programme_area_ids: list[str] | None = Field(
        default=None, description="programme-areas: these only (default: every one known)")
    min_composite_decile: int | None = Field(default=None, ge=1, le=10)
    min_composite_score: DecimalText | None = None
    gemeente_codes: list[str] | None = Field(
        default=None, description="Only areas in these gemeenten (default: everywhere)")

    @model_validator(mode="after")
    def _vulnerable_needs_a_rule(self) -> Eligibility:
        if self.kind == "other-vulnerable" and (
                self.min_composite_decile is None and self.min_composite_score is None):
            raise ValueError("other-vulnerable needs minCompositeDecile or minCompositeScore")
        return self


class Theme(Camel):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
    share: Annotated[str, Field(pattern=r"^(0(\.[0-9]{1,12})?|1(\.0{1,12})?)$",
                                description="A decimal string; the shares sum to exactly 1")]


class Need(Camel):
    """need_eff = max(0, need - threshold) ** exponent; max(0, threshold - need) ** exponent for
    an indicator where lower is worse (labour participation, WOZ value)."""

    indicator: str = Field(description=f"`{COMPOSITE_INDEX}` or an indicator id")
    threshold: DecimalText = "0"
    exponent: DecimalText = "1"

    @field_validator("indicator")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != COMPOSITE_INDEX and value not in KNOWN_INDICATORS:
            raise ValueError(f"unknown indicator {value!r}")
        return value

    @field_validator("exponent")
    @classmethod
    def _positive(cls, value: str) -> str:
        if Decimal(value) <= 0:
            raise ValueError("the exponent must be positive")
        return value


class Formula(Camel):
    base: BaseKind
    need: Need
    fixed_cents: OptionalCents = 0
    floor_cents: OptionalCents = 0
    cap_cents: OptionalCents | None = None

    @model_validator(mode="after")
    def _floor_below_cap(self) -> Formula:
        if self.cap_cents is not None and self.floor_cents > self.cap_cents:
            raise ValueError("floorCents is above capCents")
        return self


class FormulaOverride(Camel):
    """Replaces parts of a pool's formula in one scenario."""

    pool: str
    base: BaseKind | None = None
    need: Need | None = None
    fixed_cents: OptionalCents | None = None
    floor_cents: OptionalCents | None = None
    cap_cents: OptionalCents | None = None


class YearAmount(Camel):
    year: Annotated[int, Field(strict=True, ge=2000, le=2200)]
    amount_cents: Cents


class Pool(Camel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    annual_amount_cents: Cents = Field(description="The amount of the first year, and of "
                                       "every year unless indexed or given in yearAmounts")
    indexation: DecimalText | None = Field(
        default=None, description="Yearly growth of the amount, compounded from the first year "
        "(\"0.02\": 2 % a year); each year's amount rounded half-even to the cent")
    year_amounts: Annotated[list[YearAmount], Field(max_length=200)] = Field(
        default_factory=list, description="Years with an amount of their own (overrides the "
        "annual amount and its indexation)")
    eligibility: Eligibility
    themes: Annotated[list[Theme], Field(min_length=1, max_length=20)]
    allocation_level: AllocationLevel
    formula: Formula

    @field_validator("themes")
    @classmethod
    def _shares_sum_to_one(cls, themes: list[Theme]) -> list[Theme]:
        try:
            total = sum((Decimal(t.share) for t in themes), Decimal(0))
        except InvalidOperation as exc:
            raise ValueError("a share is not a decimal") from exc
        if total != 1:
            raise ValueError(f"the theme shares sum to {total}, not exactly 1")
        if len({t.code for t in themes}) != len(themes):
            raise ValueError("theme codes must be unique")
        return themes

    @field_validator("indexation")
    @classmethod
    def _growth_keeps_money(cls, value: str | None) -> str | None:
        if value is not None and Decimal(value) <= -1:
            raise ValueError("an indexation of -1 or less leaves no money")
        return value

    @field_validator("year_amounts")
    @classmethod
    def _one_amount_a_year(cls, amounts: list[YearAmount]) -> list[YearAmount]:
        if len({a.year for a in amounts}) != len(amounts):
            raise ValueError("a year can have one amount only")
        return sorted(amounts, key=lambda a: a.year)

    def amounts(self, years: range) -> dict[int, int]:
        """The pool's amount in each budget year, in cents."""
        given = {a.year: a.amount_cents for a in self.year_amounts}
        growth = Decimal(1) + Decimal(self.indexation or 0)
        out: dict[int, int] = {}
        for offset, year in enumerate(years):
            if year in given:
                out[year] = given[year]
            else:
                exact = MONEY.multiply(Decimal(self.annual_amount_cents),
                                       MONEY.power(growth, offset))
                out[year] = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
        return out

    @model_validator(mode="after")
    def _level_fits_eligibility(self) -> Pool:
        if (self.eligibility.kind == "other-vulnerable"
                and self.allocation_level is AllocationLevel.PROGRAMME_AREA):
            raise ValueError("other-vulnerable areas are not in programme areas: choose "
                             "allocationLevel buurt, wijk or gemeente")
        return self


PERIOD = r"^(month|rolling-12m):[0-9]{4}-(0[1-9]|1[0-2])$"


class IndicatorPeriod(Camel):
    """From `fromYear` on (until the next entry), budget years use this indicator period."""

    from_year: Annotated[int, Field(strict=True, ge=2000, le=2200)]
    period: Annotated[str, Field(pattern=PERIOD, description="month:YYYY-MM or "
                                 "rolling-12m:YYYY-MM, as the indicators service names it")]


class ProgrammeCreate(Camel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Literal["EUR"]
    first_year: Annotated[int, Field(strict=True, ge=2000, le=2200)]
    last_year: Annotated[int, Field(strict=True, ge=2000, le=2200)]
    pools: Annotated[list[Pool], Field(min_length=1, max_length=20)]
    indicator_periods: Annotated[list[IndicatorPeriod], Field(max_length=200)] = Field(
        default_factory=list, description="The indicator period each budget year uses. Years "
        "before the first entry, and years whose period has not been received yet, use the "
        "latest indicators received; none given: every year does")

    @model_validator(mode="after")
    def _consistent(self) -> ProgrammeCreate:
        if self.last_year < self.first_year:
            raise ValueError("lastYear is before firstYear")
        if len({p.name for p in self.pools}) != len(self.pools):
            raise ValueError("pool names must be unique")
        years = self.years
        for pool in self.pools:
            outside = [a.year for a in pool.year_amounts if a.year not in years]
            if outside:
                raise ValueError(f"pool {pool.name!r} has amounts for {outside}, outside "
                                 f"{self.first_year}-{self.last_year}")
        starts = [p.from_year for p in self.indicator_periods]
        if len(set(starts)) != len(starts):
            raise ValueError("indicatorPeriods: one period per fromYear")
        outside = [y for y in starts if y not in years]
        if outside:
            raise ValueError(f"indicatorPeriods start in {outside}, outside "
                             f"{self.first_year}-{self.last_year}")
        self.indicator_periods.sort(key=lambda p: p.from_year)
        return self

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    def period_of(self, year: int) -> str | None:
        """The indicator period a budget year uses; None: the latest received."""
        chosen = None
        for entry in self.indicator_periods:
            if entry.from_year <= year:
                chosen = entry.period
        return chosen


class YearTotal(Camel):
    year: int
    cents: int


class ProgrammeRead(ProgrammeCreate):
    model_config = ConfigDict(extra="ignore")
    id: UUID
    annual_total_cents: int = Field(description="The pools' annual amounts added up")
    year_totals: list[YearTotal] = Field(description="Each budget year's amount over all "
                                         "pools, as the schedule gives it")
    organisation: str = Field(description="Its programme officers draft scenarios and its "
                              "programme approvers approve them")
    pools_edited_by: str = Field(description="Who last wrote the pools and formulas: they may "
                                 "not approve this programme's scenarios (four eyes)")
    created_by: str
    created_at: datetime


class ProgrammePage(Camel):
    """One page of programmes, oldest first; pass `nextCursor` as `cursor` for the next."""

    items: list[ProgrammeRead]
    next_cursor: str | None = Field(description="null on the last page")


class HistoryEntry(Camel):
    action: str
    actor: str
    at: datetime
    scenario_id: UUID | None = None
    detail: dict[str, object]


class History(Camel):
    items: list[HistoryEntry] = Field(description="Oldest first")
