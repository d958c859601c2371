"""A property-based attacker: random countries, the real computation, an exact solver.

Hypothesis draws a country (national > gemeenten > wijken > buurten, programme areas that nest
in and overlap with wijken and each other), households with signals in several categories over
two months, many of them in groups of 1-4, and record keys. The real engine computes what is
published for `month:2026-09`, `month:2026-10` (whose trend looks back at September) and
`rolling-12m:2026-10` (the series of both months). The attacker turns every published number
into integer constraints on the true counts: counts (within the documented noise bound), the
reasons of withheld cells, rates on public denominators, per-category rates, the stacking
percentage and the trend (tied to last month's published households), with every sum of the
hierarchy and the programme areas. Rankings are orderings of published values and add nothing
to them. For every true count of 1-4 the solver asks whether it is pinned; it never may be.

The second test lets the attacker also link the tables (the rolling period's signals are the
sum of the months'; its distinct households lie between the largest month and the sum;
households <= signals; households per category against all households). Suppression protects
each table on its own, so that attacker still pins a small count in a few of these small
random countries: a known gap, documented in docs/disclosure.md, kept as an xfail.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from services.indicators.cellkey import KEY_SPACE, MAX_NOISE
from services.indicators.computation import definitions as d
from services.indicators.computation.engine import (
    Computation,
    OpenStatistics,
    SignalCounts,
    compute,
)
from services.indicators.computation.periods import Period, month_index
from services.indicators.tests.attacks.country import Country, Household
from services.indicators.tests.attacks.found_countries import COMBINED, WIDENED, ZERO_TOTAL
from services.indicators.tests.attacks.solver import UNBOUNDED, Attacker

CATEGORIES = ("rent-arrears", "nuisance", "loneliness")
MONTHS = ("2026-09", "2026-10")
SEPTEMBER, OCTOBER = Period("month", "2026-09"), Period("month", "2026-10")
YEAR = Period("rolling-12m", "2026-10")
PERIODS = (SEPTEMBER, OCTOBER, YEAR)


@st.composite
def households(draw: st.DrawFn) -> Household:
    visits: dict[str, dict[str, tuple[int, int]]] = {}
    for month in draw(st.sampled_from([MONTHS[:1], MONTHS[1:], MONTHS])):
        categories = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2,
                                   unique=True))
        visits[month] = {}
        for c in categories:
            signals = draw(st.integers(1, 2))
            visits[month][c] = (signals, draw(st.integers(0, signals)))
    return Household(draw(st.integers(0, KEY_SPACE - 1)), visits)


@st.composite
def countries(draw: st.DrawFn) -> Country:
    buurten: dict[str, list[Household]] = {}
    for g in range(draw(st.integers(1, 2))):
        for w in range(draw(st.integers(1, 2))):
            for b in range(draw(st.integers(1, 3))):
                size = draw(st.one_of(st.integers(0, 4), st.integers(1, 4), st.integers(5, 12)))
                buurten[f"BU{3400 + g}{w:02d}{b:02d}"] = draw(
                    st.lists(households(), min_size=size, max_size=size))
    codes = sorted(buurten)
    programme_areas = {}
    for p in range(draw(st.integers(0, 3))):
        members = set(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=4,
                                    unique=True)))
        if draw(st.booleans()):  # a whole wijk and more: nested in one direction or another
            wijk = draw(st.sampled_from(codes))[2:8]
            members |= {c for c in codes if c[2:8] == wijk}
        programme_areas[f"PA-{p}"] = sorted(members)
    dwellings = {code: draw(st.integers(20, 150)) for code in codes}
    return Country(buurten, programme_areas, dwellings)


def _months(period: Period) -> set[str]:
    last = month_index(period.last_month)
    return {m for m in MONTHS if last - period.months < month_index(m) <= last}


def _counts(country: Country, period: Period) -> dict[str, SignalCounts]:
    """Per buurt, what `repository.signal_counts` would load for the period."""
    window, earlier = _months(period), _months(period.previous())
    stacking = _months(Period("rolling-12m", period.last_month))
    out = {}
    for code, members in country.buurten.items():
        c = SignalCounts()
        keys = dict.fromkeys(("signals", "households", "acute", "previous_households",
                              "stacked", "stack_base"), 0)
        for h in members:
            current = {m: v for m, v in h.visits.items() if m in window}
            if current:
                c.households += 1
                keys["households"] += h.key
            for per_category in current.values():
                for signals, acute in per_category.values():
                    c.signals += signals
                    c.acute += acute
                    keys["signals"] += signals * h.key
                    keys["acute"] += acute * h.key
            for category in {x for v in current.values() for x in v}:
                c.by_category[category] = c.by_category.get(category, 0) + 1
                c.by_category_keys[category] = c.by_category_keys.get(category, 0) + h.key
            if any(m in earlier for m in h.visits):
                c.previous_households += 1
                keys["previous_households"] += h.key
            spread = {x for m, v in h.visits.items() if m in stacking for x in v}
            if spread:
                c.stack_base += 1
                keys["stack_base"] += h.key
            if len(spread) >= 2:
                c.stacked += 1
                keys["stacked"] += h.key
        c.keys = keys
        out[code] = c
    return out


def _publish(country: Country) -> dict[Period, Computation]:
    statistics = {code: OpenStatistics(year=2026, corporation_dwellings=n)
                  for code, n in country.corporation_dwellings.items()}
    return {p: compute(p, _counts(country, p), statistics, country.programme_areas,
                       list(country.buurten)) for p in PERIODS}


# --- the attacker -----------------------------------------------------------------------------


def _x(kind: str, period: Period, area: str) -> str:
    """The unknown true count of one cell. The base of stacking and last period's households
    are other periods' household cells (the same households), so they share that unknown."""
    return f"{kind}|{period}|{area}"


def _published_range(rate: float, denominator: int) -> tuple[int, int] | None:
    """The published counts p for which round(p / denominator * 100, 1) == rate."""
    guess = round(rate * denominator / 100)
    hits = [p for p in range(max(0, guess - 3), guess + 4)
            if round(p / denominator * 100, 1) == rate]
    return (min(hits), max(hits)) if hits else None


class Model:
    def __init__(self, published: dict[Period, Computation]) -> None:
        self.a = Attacker()
        self.published = published
        self._noise = 0

    def count_within(self, x: str, low: int, high: int) -> None:
        """A published value in [low, high] of the cell whose true count is x."""
        if high <= 0:
            self.a.var(x, 0, 0)
        else:
            self.a.var(x, max(5, low - MAX_NOISE), high + MAX_NOISE)

    def reason(self, x: str, reason: str | None) -> None:
        if reason == "small-count":
            self.a.var(x, 1, 4)
        elif reason == "secondary":
            self.a.var(x, 1, UNBOUNDED)

    def noisy(self, x: str) -> str:
        """The published (perturbed) value of a cell that is not shown as a count itself."""
        self._noise += 1
        p, e = f"p{self._noise}", f"e{self._noise}"
        self.a.var(e, -MAX_NOISE, MAX_NOISE)
        self.a.var(p, 0, UNBOUNDED)
        self.a.constrain({p: 1, x: -1, e: -1}, 0, 0)
        return p


def _structure(model: Model, computation: Computation, groups: dict[str, list[str]],
               linked: bool) -> None:
    a, period = model.a, computation.period
    kinds = ["signals", "households", "acute", "stacked", *(f"cat:{c}" for c in CATEGORIES)]
    for kind in kinds:
        for parent, parts in groups.items():
            a.equal(_x(kind, period, parent), [_x(kind, period, p) for p in parts])
    for area in computation.areas if linked else ():  # one table with another
        h, s = _x("households", period, area), _x("signals", period, area)
        a.constrain({h: 1, s: -1}, -UNBOUNDED, 0)
        a.constrain({_x("acute", period, area): 1, s: -1}, -UNBOUNDED, 0)
        cats = [_x(f"cat:{c}", period, area) for c in CATEGORIES]
        for cat in cats:
            a.constrain({cat: 1, h: -1}, -UNBOUNDED, 0)
        a.constrain({**{cat: 1 for cat in cats}, h: -1}, 0, UNBOUNDED)
        a.constrain({_x("stacked", period, area): 1, _base(period, area): -1}, -UNBOUNDED, 0)


def _base(period: Period, area: str) -> str:
    """Households with a signal in the 12 months ending with the period: September's own
    households (no data before), the year's otherwise."""
    return _x("households", SEPTEMBER if period == SEPTEMBER else YEAR, area)


def _observe(model: Model, computation: Computation) -> None:
    period = computation.period
    for area, result in computation.areas.items():
        public = result.public
        for kind, indicator in (("signals", d.SIGNALS), ("households", d.SIGNALLED_HOUSEHOLDS),
                                ("acute", d.ACUTE_ESCALATIONS)):
            cell = public[indicator]
            model.a.observe_count(_x(kind, period, area), {"value": cell.value,
                                                           "reason": cell.reason})
        corp = result.stats.corporation_dwellings
        assert corp is not None
        rates = [(_x("households", period, area), public[d.SIGNALLED_RATE])]
        rates += [(_x(f"cat:{c}", period, area), public[d.category_rate_id(c)])
                  for c in CATEGORIES]
        for x, cell in rates:
            if cell.value is None:
                model.reason(x, cell.reason)
            elif (found := _published_range(cell.value, corp)) is not None:
                model.count_within(x, *found)
        trend = public[d.SIGNALLED_TREND]
        rate = public[d.SIGNALLED_RATE].value
        if period == OCTOBER and trend.value is not None and rate is not None:
            # Last month's published rate, up to the rounding of the two published figures.
            hits = [p for p in range(0, 3 * corp)
                    if abs(round(p / corp * 100, 1) - (rate - trend.value)) <= 0.11]
            if hits:
                model.count_within(_x("households", SEPTEMBER, area), min(hits), max(hits))
        share = public[d.STACKED_PCT]
        if share.value is not None:
            base = model.published[SEPTEMBER if period == SEPTEMBER else YEAR].areas[area]
            p_base = base.public[d.SIGNALLED_HOUSEHOLDS].value  # the same cell, published
            assert p_base is not None
            stacked = _x("stacked", period, area)
            if share.value == 0:
                model.a.var(stacked, 0, 0)
                continue
            model.a.var(stacked, 5, UNBOUNDED)
            p = model.noisy(stacked)
            model.a.var(p, 5, UNBOUNDED)
            # share - .05 <= 100 p / p_base <= share + .05 (capped at 100)
            high = UNBOUNDED if share.value >= 100 else (share.value + 0.05) * p_base
            model.a.constrain({p: 100}, (share.value - 0.05) * p_base, high)


def _across_periods(model: Model, areas: list[str]) -> None:
    a = model.a
    for area in areas:
        for kind in ("signals", "acute"):  # signals add up over months
            a.constrain({_x(kind, YEAR, area): 1, _x(kind, SEPTEMBER, area): -1,
                         _x(kind, OCTOBER, area): -1}, 0, 0)
        for kind in ("households", *(f"cat:{c}" for c in CATEGORIES)):  # distinct households
            sep, octo, year = (_x(kind, p, area) for p in PERIODS)
            a.constrain({year: 1, sep: -1}, 0, UNBOUNDED)
            a.constrain({year: 1, octo: -1}, 0, UNBOUNDED)
            a.constrain({year: 1, sep: -1, octo: -1}, -UNBOUNDED, 0)
        a.constrain({_x("stacked", OCTOBER, area): 1, _x("stacked", YEAR, area): -1}, 0, 0)


def _truth(published: dict[Period, Computation]) -> dict[str, int]:
    out = {}
    for period, computation in published.items():
        for area, result in computation.areas.items():
            c = result.counts
            out[_x("signals", period, area)] = c.signals
            out[_x("households", period, area)] = c.households
            out[_x("acute", period, area)] = c.acute
            out[_x("stacked", period, area)] = c.stacked
            for category in CATEGORIES:
                out[_x(f"cat:{category}", period, area)] = c.by_category.get(category, 0)
    return out


def _groups(computation: Computation, programme_areas: dict[str, list[str]]
            ) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {"NL00": []}
    for code in computation.areas:
        if code.startswith("BU"):
            groups.setdefault("WK" + code[2:8], []).append(code)
        elif code.startswith("WK"):
            groups.setdefault("GM" + code[2:6], []).append(code)
        elif code.startswith("GM"):
            groups["NL00"].append(code)
    return groups | programme_areas


def _attack(country: Country, linked: bool) -> dict[str, int]:
    """The true counts of 1-4 that the published figures pin."""
    published = _publish(country)
    model = Model(published)
    groups = _groups(published[OCTOBER], country.programme_areas)
    for computation in published.values():
        _structure(model, computation, groups, linked)
        _observe(model, computation)
    if linked:
        _across_periods(model, list(published[OCTOBER].areas))
    truth = _truth(published)
    for x in truth:  # the attacker's unknowns; the truth is one solution
        model.a.var(x)
    pinned = model.a.pinned({x: n for x, n in truth.items() if 1 <= n <= 4})
    return {x: truth[x] for x in pinned}


# Derandomised (the same countries every run) and without shrinking (each try solves ILPs);
# the countries found earlier (found_countries.py) first.
ATTACKS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@ATTACKS
@given(countries())
@example(country=WIDENED)
@example(country=ZERO_TOTAL)
@example(country=COMBINED)
def test_no_published_figure_pins_a_small_count(country: Country) -> None:
    """Every figure of every period (counts, rates, per-category rates, stacking, the trend
    against last month's published households, rankings as their order) and every sum of the
    hierarchy and the programme areas."""
    assert not _attack(country, linked=False)


# Not strict: which countries Hypothesis draws here changes with what else the session has
# collected (alone it always finds a pin; in the whole suite it sometimes does not), so a pass
# says only that this run's countries were not pinned.
@pytest.mark.xfail(
    strict=False, raises=AssertionError,
    reason="known gap (docs/disclosure.md): linking tables, e.g. a rolling year's signals as "
    "the sum of its months, or households per category against all households, can pin a "
    "small count; suppression protects each table on its own")
@ATTACKS
@given(countries())
def test_linked_tables_and_series_pin_no_small_count(country: Country) -> None:
    """The same attacker, who also links the tables: across periods and across indicators."""
    assert not _attack(country, linked=True)
