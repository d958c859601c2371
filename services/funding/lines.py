"""The allocation line: one area's amount in one pool, theme and year, with how it came
about. Computed once, stored, served in pages, exported as CSV and compared: one type."""

from __future__ import annotations

from pydantic import Field

from services.funding.programmes.schemas import Camel


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
    unrounded_cents: str = Field(description=(
        "The exact amount before rounding to whole cents, to 34 digits rounded down: cents = "
        "floor(unroundedCents) + remainderCent"))
    cents: int
    euros: str
    binding_constraint: str = Field(description="floor | cap | none")
    remainder_cent: bool = Field(description="Got one of the cents left after rounding down")
    share: str = Field(description="cents / the theme-year budget")
    euros_per_inhabitant: str | None
    indicator_method_version: str | None
    indicator_period: str | None


# The CSV has a column per field, named as on the wire, in the model's order.
COLUMNS = [field.alias or name for name, field in AllocationLine.model_fields.items()]


def euros(cents: int) -> str:
    """Cents as euros with two decimals, as text."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
