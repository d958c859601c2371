"""Reporting periods: `month:2026-11` (a calendar month) and `rolling-12m:2026-11`.

A rolling period names its last month: `rolling-12m:2026-11` is 2025-12 up to and including
2026-11. The previous period (for trends) is the same window one window-length earlier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Days after a period's last month until it is final (the default of `period_grace_days`).
GRACE_DAYS = 7

_PERIOD = re.compile(r"(month|rolling-12m):([0-9]{4})-(0[1-9]|1[0-2])")


def month_index(month: str) -> int:
    """'2026-11' -> a month counter (year * 12 + month - 1)."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # "month" | "rolling-12m"
    last_month: str  # YYYY-MM

    @property
    def months(self) -> int:
        return 1 if self.kind == "month" else 12

    @property
    def first_month(self) -> str:
        return month_label(month_index(self.last_month) - self.months + 1)

    @property
    def year(self) -> int:
        """The year whose open statistics (denominators) go with this period."""
        return int(self.last_month[:4])

    def previous(self) -> Period:
        return Period(self.kind, month_label(month_index(self.last_month) - self.months))

    def shifted(self, months: int) -> Period:
        return Period(self.kind, month_label(month_index(self.last_month) + months))

    def counts(self, month: str) -> bool:
        """Whether facts of `month` count in the period: in it, in its previous period (the
        trend) or in the 12 months of its stacking window."""
        stack = Period("rolling-12m", self.last_month)
        return min(self.previous().first_month, stack.first_month) <= month <= self.last_month

    def final_at(self, grace_days: int) -> datetime:
        """When the period becomes final: `grace_days` after its last month ended. From then
        on its public figures count only the facts recorded before this instant."""
        after = max(month_index(self.last_month) + 1, 12)  # year 0 (or before): year 1
        return datetime(after // 12, after % 12 + 1, 1, tzinfo=UTC) + timedelta(days=grace_days)

    def __str__(self) -> str:
        return f"{self.kind}:{self.last_month}"


def parse_period(text: str) -> Period:
    """Parse `month:YYYY-MM` or `rolling-12m:YYYY-MM`; raises ValueError."""
    match = _PERIOD.fullmatch(text)
    if match is None:
        raise ValueError("a period is month:YYYY-MM or rolling-12m:YYYY-MM")
    return Period(match.group(1), f"{match.group(2)}-{match.group(3)}")


@dataclass(frozen=True, slots=True)
class PeriodBounds:
    """The periods a reader may ask for: their last month from the first month with data (a
    signal fact, or January of the register's first statistics year) up to the current month.
    Outside them a figure is either all zeros or not there yet, and a caller could make the
    service compute any of ten thousand years."""

    first_month: str  # YYYY-MM
    last_month: str  # YYYY-MM, the current month

    def why_not(self, period: Period) -> str | None:
        """None for a period inside the bounds, otherwise what is wrong with it."""
        if period.last_month < self.first_month:
            return (f"{period} ends before {self.first_month}, the first month with data "
                    f"(periods run from {self.first_month} to {self.last_month})")
        if period.last_month > self.last_month:
            return (f"{period} ends after the current month {self.last_month} (periods run "
                    f"from {self.first_month} to {self.last_month})")
        return None


def period_bounds(now: datetime, first_fact_month: str | None,
                  first_statistics_year: int | None) -> PeriodBounds:
    """The bounds at `now`; without any data only the current month is readable."""
    current = now.strftime("%Y-%m")
    starts = [m for m in (first_fact_month,
                          None if first_statistics_year is None
                          else f"{first_statistics_year:04d}-01") if m is not None]
    return PeriodBounds(min([*starts, current]), current)


def current_period(now: datetime, kind: str = "rolling-12m") -> Period:
    return Period(kind, now.strftime("%Y-%m"))


def latest_final_period(now: datetime, grace_days: int, kind: str = "rolling-12m") -> Period:
    """The last period of `kind` that is final at `now`."""
    period = current_period(now, kind)
    while period.final_at(grace_days) > now:
        period = period.shifted(-1)
    return period
