"""The indicators a formula may name as its need.

A copy of the ids the indicators service publishes (services/indicators/computation/
definitions.py): a service never imports another, and the contract does not list them yet.
Plus the composite index every area gets.
"""

from __future__ import annotations

from typing import Final

COMPOSITE_INDEX: Final = "composite-index"

_SIGNALLED_RATE: Final = "signalled-households-per-100-corporation-dwellings"
_SIGNAL_CATEGORIES: Final = (
    "rent-arrears", "financial-worries", "nuisance", "neglect", "unsafe-situation",
    "care-need", "loneliness", "youth-concern", "housing-quality", "other",
)

KNOWN_INDICATORS: Final = frozenset({
    "signals",
    "signalled-households",
    _SIGNALLED_RATE,
    *(f"{_SIGNALLED_RATE}.{category}" for category in _SIGNAL_CATEGORIES),
    "acute-escalations",
    "stacked-households-pct",
    "signalled-households-trend",
    "low-income-households-pct",
    "bijstand-per-100-inhabitants",
    "ww-per-100-inhabitants",
    "ao-per-100-inhabitants",
    "labour-participation-pct",
    "youth-care-pct",
    "mean-woz-value",
    "corporation-dwellings-pct",
})
