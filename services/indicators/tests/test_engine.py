"""The computation without a database: periods, roll-up, disclosure verdicts."""

from __future__ import annotations

import pytest

from services.indicators.cellkey import MAX_NOISE
from services.indicators.computation import definitions as d
from services.indicators.computation.engine import OpenStatistics, SignalCounts, compute
from services.indicators.computation.periods import Period, parse_period


def test_periods_name_their_last_month():
    year = parse_period("rolling-12m:2026-02")
    assert (year.first_month, year.last_month) == ("2025-03", "2026-02")
    assert str(year.previous()) == "rolling-12m:2025-02"
    month = parse_period("month:2026-01")
    assert month.first_month == "2026-01" and str(month.previous()) == "month:2025-12"
    assert str(month.shifted(-13)) == "month:2024-12"
    assert str(month.final_at(7)) == "2026-02-08 00:00:00+00:00"
    assert Period("month", "0000-01").previous().final_at(7).year == 1  # no error
    for bad in ("month:2026-13", "rolling-6m:2026-01", "2026-01", "month:2026-1"):
        with pytest.raises(ValueError):
            parse_period(bad)


def _counts(households: int) -> SignalCounts:
    return SignalCounts(signals=households, households=households)


def test_programme_areas_and_levels_sum_buurten_and_rates_use_summed_denominators():
    stats = {"BU03630101": OpenStatistics(year=2026, corporation_dwellings=50,
                                          households=100, low_income_households_pct=20.0),
             "BU03630201": OpenStatistics(year=2026, corporation_dwellings=150,
                                          households=300, low_income_households_pct=10.0)}
    result = compute(Period("month", "2026-10"),
                     {"BU03630101": _counts(10), "BU03630201": _counts(30)},
                     stats, {"PA-x": ["BU03630101", "BU03630201"]})
    programme = result.areas["PA-x"]
    assert programme.raw[d.SIGNALLED_HOUSEHOLDS] == 40
    assert programme.raw[d.SIGNALLED_RATE] == 20.0  # 40 / 200, not the mean of 20 and 20
    assert programme.raw["low-income-households-pct"] == 12.5  # weighted by households
    assert result.areas["GM0363"].raw[d.SIGNALLED_RATE] == 20.0
    assert result.areas["NL00"].raw[d.SIGNALLED_HOUSEHOLDS] == 40


def test_a_suppressed_child_is_never_left_alone_in_its_wijk():
    counts = {"BU03630101": _counts(3), "BU03630102": _counts(40), "BU03630103": _counts(7)}
    result = compute(Period("month", "2026-10"), counts, {}, {})
    cells = {code: result.areas[code].public[d.SIGNALLED_HOUSEHOLDS] for code in counts}
    assert cells["BU03630101"].reason == "small-count"
    assert cells["BU03630103"].reason == "secondary"
    # Published counts carry the cell-key noise: within 2 of the truth.
    assert abs(cells["BU03630102"].value - 40) <= MAX_NOISE
    assert abs(result.areas["WK036301"].public[d.SIGNALLED_HOUSEHOLDS].value - 50) <= MAX_NOISE
    # The raw values stay exact for admins.
    assert result.areas["BU03630101"].raw[d.SIGNALLED_HOUSEHOLDS] == 3
