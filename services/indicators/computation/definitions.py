"""The indicators we publish: id, name, unit, source, direction of "worse", composite domain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from services.indicators.composite import Direction, Domain

SIGNAL_STREAM: Final = "signal-stream"
CBS_KERNCIJFERS: Final = "cbs-kerncijfers"

# The categories of the signals taxonomy (services/signals/categories/taxonomy.toml); the
# events carry the code, and a category not listed here still counts in the totals.
SIGNAL_CATEGORIES: Final = (
    "rent-arrears", "financial-worries", "nuisance", "neglect", "unsafe-situation",
    "care-need", "loneliness", "youth-concern", "housing-quality", "other",
)

SIGNALS: Final = "signals"
SIGNALLED_HOUSEHOLDS: Final = "signalled-households"
SIGNALLED_RATE: Final = "signalled-households-per-100-corporation-dwellings"
ACUTE_ESCALATIONS: Final = "acute-escalations"
STACKED_PCT: Final = "stacked-households-pct"
SIGNALLED_TREND: Final = "signalled-households-trend"


def category_rate_id(category: str) -> str:
    return f"{SIGNALLED_RATE}.{category}"


@dataclass(frozen=True, slots=True)
class IndicatorDefinition:
    id: str
    name: str
    unit: str
    source: str
    direction: Direction
    domain: Domain | None = None  # None: not part of the composite index
    is_count: bool = False  # counts roll up the hierarchy and get secondary suppression


_H = Direction.HIGHER_IS_WORSE
_L = Direction.LOWER_IS_WORSE

DEFINITIONS: Final[tuple[IndicatorDefinition, ...]] = (
    IndicatorDefinition(SIGNALS, "Signals observed", "count", SIGNAL_STREAM, _H, is_count=True),
    IndicatorDefinition(SIGNALLED_HOUSEHOLDS, "Distinct households with a signal", "count",
                        SIGNAL_STREAM, _H, is_count=True),
    IndicatorDefinition(SIGNALLED_RATE, "Households with a signal per 100 corporation dwellings",
                        "per 100 corporation dwellings", SIGNAL_STREAM, _H, Domain.CARE),
    *(
        IndicatorDefinition(
            category_rate_id(c), f"Households with a {c} signal per 100 corporation dwellings",
            "per 100 corporation dwellings", SIGNAL_STREAM, _H,
            Domain.NUISANCE_AND_SAFETY if c in ("nuisance", "unsafe-situation") else None,
        )
        for c in SIGNAL_CATEGORIES
    ),
    IndicatorDefinition(ACUTE_ESCALATIONS, "Acute escalations", "count", SIGNAL_STREAM, _H,
                        is_count=True),
    IndicatorDefinition(STACKED_PCT, "Share of signalled households with signals in 2 or more "
                        "categories within 12 months", "percent", SIGNAL_STREAM, _H),
    IndicatorDefinition(SIGNALLED_TREND, "Change in households with a signal per 100 "
                        "corporation dwellings since the previous period", "rate points",
                        SIGNAL_STREAM, _H),
    IndicatorDefinition("low-income-households-pct", "Households with a low income", "percent",
                        CBS_KERNCIJFERS, _H, Domain.INCOME_AND_WORK),
    IndicatorDefinition("bijstand-per-100-inhabitants", "Bijstand recipients per 100 "
                        "inhabitants", "per 100 inhabitants", CBS_KERNCIJFERS, _H,
                        Domain.INCOME_AND_WORK),
    IndicatorDefinition("ww-per-100-inhabitants", "WW recipients per 100 inhabitants",
                        "per 100 inhabitants", CBS_KERNCIJFERS, _H, Domain.INCOME_AND_WORK),
    IndicatorDefinition("ao-per-100-inhabitants", "AO recipients per 100 inhabitants",
                        "per 100 inhabitants", CBS_KERNCIJFERS, _H, Domain.INCOME_AND_WORK),
    IndicatorDefinition("labour-participation-pct", "Net labour participation", "percent",
                        CBS_KERNCIJFERS, _L, Domain.INCOME_AND_WORK),
    IndicatorDefinition("youth-care-pct", "Young people receiving youth care", "percent",
                        CBS_KERNCIJFERS, _H, Domain.CARE),
    IndicatorDefinition("mean-woz-value", "Mean WOZ value of dwellings", "euro",
                        CBS_KERNCIJFERS, _L, Domain.HOUSING),
    IndicatorDefinition("corporation-dwellings-pct", "Dwellings owned by housing corporations",
                        "percent", CBS_KERNCIJFERS, _H, Domain.HOUSING),
)

BY_ID: Final = {d.id: d for d in DEFINITIONS}
