"""The full computation of every area's indicators for one period (pure: no database).

Counting rule: a statistics pseudonym belongs to one household at one address, and an address
lies in one buurt, so distinct households of a wijk, gemeente, programme area or the nation are
the sum of their buurten's distinct households (exact; a household that moved between buurten
within a period counts once in each). Every higher level is built by summing counts and
denominators; rates are always computed from summed numerators and denominators, never averaged.

Disclosure control (`services.indicators.disclosure`, over the cells of `cells.py`) makes the
public values: every count behind a published figure (signals, households, acute escalations,
households per category, stacked households and their base, last period's households) is
protected over the whole hierarchy and the programme areas together (suppression, then the
cell-key perturbation), and every rate, percentage and trend is computed from those protected
counts only. Open CBS
statistics are public already and pass as they are. Admins get the raw values.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from services.indicators.composite import (
    METHOD_VERSION,
    AreaScore,
    IndicatorSpec,
    RankStability,
    compute_vulnerability_index,
)
from services.indicators.computation import definitions as d
from services.indicators.computation.cells import (
    FIELDS,
    PREVIOUS,
    STACK_BASE,
    STACKED,
    category_cell,
    disclose_counts,
)
from services.indicators.computation.periods import Period
from services.indicators.disclosure import (
    DisclosedValue,
    disclose_difference,
    disclose_rate_of,
    disclose_share,
)
from shared.areacodes import NATIONAL_CODE, AreaLevel, area_level

COUNT_IDS = (d.SIGNALS, d.SIGNALLED_HOUSEHOLDS, d.ACUTE_ESCALATIONS)


@dataclass(slots=True)
class SignalCounts:
    """Counts of one area in one period (and the 12-month window for stacking)."""

    signals: int = 0
    households: int = 0
    acute: int = 0
    stacked: int = 0  # households with signals in >= 2 categories in the 12-month window
    stack_base: int = 0  # households with a signal in the 12-month window
    previous_households: int = 0
    by_category: dict[str, int] = field(default_factory=dict)  # distinct households
    # Cell keys (sums of record keys) of the counts above, by field name, and per category.
    keys: dict[str, int] = field(default_factory=dict)
    by_category_keys: dict[str, int] = field(default_factory=dict)

    def add(self, other: SignalCounts, sign: int = 1) -> None:
        """Add `other` (sign -1: take it away). A category left at 0 is dropped, as if it
        had never been added."""
        self.signals += sign * other.signals
        self.households += sign * other.households
        self.acute += sign * other.acute
        self.stacked += sign * other.stacked
        self.stack_base += sign * other.stack_base
        self.previous_households += sign * other.previous_households
        for name, key in other.keys.items():
            self.keys[name] = self.keys.get(name, 0) + sign * key
        counts, keys = self.by_category, self.by_category_keys
        for category in {*other.by_category, *other.by_category_keys}:
            n = counts.get(category, 0) + sign * other.by_category.get(category, 0)
            key = keys.get(category, 0) + sign * other.by_category_keys.get(category, 0)
            if n or key:
                counts[category], keys[category] = n, key
            else:
                counts.pop(category, None)
                keys.pop(category, None)

    def copy(self) -> SignalCounts:
        return dataclasses.replace(self, by_category=dict(self.by_category),
                                   keys=dict(self.keys),
                                   by_category_keys=dict(self.by_category_keys))


@dataclass(frozen=True, slots=True)
class OpenStatistics:
    """One area's CBS statistics of the year used for the period (None: unknown)."""

    year: int | None = None
    inhabitants: int | None = None
    households: int | None = None
    dwellings: int | None = None
    corporation_dwellings: int | None = None
    corporation_dwellings_pct: float | None = None
    mean_woz_value: float | None = None
    low_income_households_pct: float | None = None
    bijstand_recipients: int | None = None
    ww_recipients: int | None = None
    ao_recipients: int | None = None
    labour_participation_pct: float | None = None
    youth_care_pct: float | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    """A published value: a number, or None with the suppression reason (None: unknown)."""

    value: float | None
    reason: str | None = None

    @staticmethod
    def of(disclosed: DisclosedValue) -> Cell:
        value = None if disclosed.value is None else float(disclosed.value)
        return Cell(value, None if disclosed.reason is None else disclosed.reason.value)


class AreaResult:
    """One area's indicators, each worked out on first use (a ranking needs one of them for
    thousands of areas; an area's page needs all of them for one area)."""

    __slots__ = ("_cells", "code", "composite", "counts", "level", "public_counts", "stats")

    def __init__(self, code: str, level: AreaLevel, counts: SignalCounts,
                 stats: OpenStatistics, public_counts: Mapping[str, DisclosedValue]) -> None:
        self.code, self.level, self.counts, self.stats = code, level, counts, stats
        self.public_counts = public_counts
        self.composite: AreaScore | None = None
        self._cells: dict[str, tuple[float | None, Cell]] = {}

    def value(self, indicator: str) -> tuple[float | None, Cell]:
        """(raw value, public cell) of one indicator."""
        hit = self._cells.get(indicator)
        if hit is None:
            hit = self._cells[indicator] = _evaluate(self, indicator)
        return hit

    def public_cell(self, indicator: str) -> Cell:
        return self.value(indicator)[1]

    @property
    def raw(self) -> dict[str, float | None]:
        return {x.id: self.value(x.id)[0] for x in d.DEFINITIONS}

    @property
    def public(self) -> dict[str, Cell]:
        return {x.id: self.value(x.id)[1] for x in d.DEFINITIONS}


@dataclass(frozen=True, slots=True)
class Computation:
    period: Period
    method_version: str
    areas: Mapping[str, AreaResult]
    data_until: datetime | None = None  # facts recorded from then on are not counted
    # How the buurten's index ranks move under the alternative methods (from public values).
    rank_stability: tuple[RankStability, ...] = ()


def parents_of(buurt: str) -> tuple[str, str, str]:
    """(wijk, gemeente, national) codes of a buurt code, by prefix."""
    return "WK" + buurt[2:8], "GM" + buurt[2:6], NATIONAL_CODE


def compute(
    period: Period,
    buurt_counts: Mapping[str, SignalCounts],
    statistics: Mapping[str, OpenStatistics],
    programme_areas: Mapping[str, Iterable[str]],
    registered: Iterable[str] = (),
) -> Computation:
    """Every area's raw and public indicators, and the composite index of the buurten."""
    counts = roll_up(buurt_counts, programme_areas, registered)
    public_counts = disclose_counts(counts, programme_areas)
    results = area_results(counts, public_counts, statistics, programme_areas)
    stability = composite_index(results, statistics)
    return Computation(period, METHOD_VERSION, results, rank_stability=stability)


def area_results(counts: Mapping[str, SignalCounts],
                 public_counts: Mapping[str, Mapping[str, DisclosedValue]],
                 statistics: Mapping[str, OpenStatistics],
                 programme_areas: Mapping[str, Iterable[str]]) -> dict[str, AreaResult]:
    """The areas of `counts` with their statistics (own, or their buurten's summed)."""
    buurten_of = buurten_by_area(statistics, programme_areas)
    return {code: AreaResult(code, area_level(code), c,
                             statistics.get(code) or summed_statistics(
                                 buurten_of.get(code, ()), statistics),
                             public_counts[code])
            for code, c in counts.items()}


def buurten_by_area(statistics: Mapping[str, OpenStatistics],
                    programme_areas: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    buurten_of: dict[str, list[str]] = {k: list(v) for k, v in programme_areas.items()}
    for code in statistics:
        if area_level(code) is AreaLevel.BUURT:
            for parent in parents_of(code):
                buurten_of.setdefault(parent, []).append(code)
    return buurten_of


def roll_up(
    buurt_counts: Mapping[str, SignalCounts],
    programme_areas: Mapping[str, Iterable[str]],
    registered: Iterable[str],
) -> dict[str, SignalCounts]:
    counts: dict[str, SignalCounts] = defaultdict(SignalCounts)
    counts[NATIONAL_CODE] = SignalCounts()
    for code in registered:
        counts[code]  # noqa: B018 (registered areas without signals show zeros)
        if area_level(code) is AreaLevel.BUURT:
            for parent in parents_of(code):
                counts[parent]  # noqa: B018
    for buurt, c in buurt_counts.items():
        counts[buurt].add(c)
        for parent in parents_of(buurt):
            counts[parent].add(c)
    for programme_id, buurten in programme_areas.items():
        total = counts[programme_id]
        for buurt in buurten:
            if buurt in buurt_counts:
                total.add(buurt_counts[buurt])
    return dict(counts)


def _count(c: SignalCounts, indicator: str) -> int:
    count: int = getattr(c, FIELDS[indicator])
    return count


def _rate(numerator: int, denominator: int | None) -> float | None:
    if not denominator:
        return None
    return round(numerator / denominator * 100, 2)


def _evaluate(area: AreaResult, indicator: str) -> tuple[float | None, Cell]:
    return raw_value(area, indicator), _public_cell(area, indicator)


def raw_value(area: AreaResult, indicator: str) -> float | None:
    """An indicator's raw value (admins'): from the area's counts and statistics."""
    c, stats = area.counts, area.stats
    if indicator in COUNT_IDS:
        return float(_count(c, indicator))
    corp = stats.corporation_dwellings
    if indicator == d.SIGNALLED_RATE:
        return _rate(c.households, corp)
    if indicator.startswith(d.SIGNALLED_RATE + "."):
        return _rate(c.by_category.get(indicator[len(d.SIGNALLED_RATE) + 1:], 0), corp)
    if indicator == d.STACKED_PCT:
        return _rate(c.stacked, c.stack_base)
    if indicator == d.SIGNALLED_TREND:
        current, previous = _rate(c.households, corp), _rate(c.previous_households, corp)
        return None if current is None or previous is None else round(current - previous, 2)
    return _open_value(stats, indicator)


def _public_cell(area: AreaResult, indicator: str) -> Cell:
    """An indicator's public cell: from the area's protected counts only (and its
    statistics)."""
    c, stats, public = area.counts, area.stats, area.public_counts
    if indicator in COUNT_IDS:
        return Cell.of(public[indicator])
    corp = stats.corporation_dwellings
    if indicator == d.SIGNALLED_RATE:
        if corp is None:
            return Cell(None)
        return Cell.of(disclose_rate_of(public[d.SIGNALLED_HOUSEHOLDS], corp, "dwellings"))
    if indicator.startswith(d.SIGNALLED_RATE + "."):
        if corp is None:
            return Cell(None)
        category = indicator[len(d.SIGNALLED_RATE) + 1:]
        count = public.get(category_cell(category), DisclosedValue.published(0))
        return Cell.of(disclose_rate_of(count, corp, "dwellings"))
    if indicator == d.STACKED_PCT:
        if c.stack_base == 0:
            return Cell(None)
        return Cell.of(disclose_share(public[STACKED], public[STACK_BASE], "households"))
    if indicator == d.SIGNALLED_TREND:
        if corp is None:
            return Cell(None)
        # Both rates as their own periods publish them: last period's count is protected
        # exactly as in last period's publication (same cells, same keys, same verdicts).
        rate = disclose_rate_of(public[d.SIGNALLED_HOUSEHOLDS], corp, "dwellings")
        previous = disclose_rate_of(public[PREVIOUS], corp, "dwellings")
        return Cell.of(disclose_difference(rate, previous))
    return Cell(_open_value(stats, indicator))


_PER_INHABITANT = {
    "bijstand-per-100-inhabitants": "bijstand_recipients",
    "ww-per-100-inhabitants": "ww_recipients",
    "ao-per-100-inhabitants": "ao_recipients",
}
_AS_PUBLISHED = {
    "low-income-households-pct": "low_income_households_pct",
    "labour-participation-pct": "labour_participation_pct",
    "youth-care-pct": "youth_care_pct",
    "mean-woz-value": "mean_woz_value",
    "corporation-dwellings-pct": "corporation_dwellings_pct",
}


def _open_value(s: OpenStatistics, indicator: str) -> float | None:
    """Open statistics are published by CBS already: no disclosure control on top."""
    if indicator in _PER_INHABITANT:
        count = getattr(s, _PER_INHABITANT[indicator])
        return None if count is None else _rate(count, s.inhabitants)
    value: float | None = getattr(s, _AS_PUBLISHED[indicator])
    return value


def summed_statistics(
    buurten: Iterable[str], statistics: Mapping[str, OpenStatistics]
) -> OpenStatistics:
    """Statistics of an area without its own CBS row (always so for a programme area): its
    buurten's counts summed and percentages re-weighted by their denominators."""
    parts = [statistics[b] for b in buurten if b in statistics]
    if not parts:
        return OpenStatistics()

    def total(name: str) -> int | None:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else sum(values)

    def weighted(name: str, weight: str) -> float | None:
        pairs = [(getattr(p, name), getattr(p, weight)) for p in parts]
        if any(v is None or w is None for v, w in pairs):
            return None
        denominator = sum(w for _, w in pairs)
        return round(sum(v * w for v, w in pairs) / denominator, 1) if denominator else None

    return OpenStatistics(
        year=max(p.year or 0 for p in parts) or None,
        inhabitants=total("inhabitants"), households=total("households"),
        dwellings=total("dwellings"), corporation_dwellings=total("corporation_dwellings"),
        corporation_dwellings_pct=weighted("corporation_dwellings_pct", "dwellings"),
        mean_woz_value=weighted("mean_woz_value", "dwellings"),
        low_income_households_pct=weighted("low_income_households_pct", "households"),
        bijstand_recipients=total("bijstand_recipients"), ww_recipients=total("ww_recipients"),
        ao_recipients=total("ao_recipients"),
        labour_participation_pct=weighted("labour_participation_pct", "inhabitants"),
        youth_care_pct=weighted("youth_care_pct", "inhabitants"),
    )


def composite_index(results: dict[str, AreaResult], statistics: Mapping[str, OpenStatistics]
               ) -> tuple[RankStability, ...]:
    """Index of the buurten, from public signal rates and the open statistics only (a withheld
    value is missing): the index, its alternative ranks and their rank stability are made of
    published figures, for admins too."""
    buurten = sorted(c for c, r in results.items() if r.level is AreaLevel.BUURT)
    if not buurten:
        return ()
    specs = [IndicatorSpec(x.id, x.domain, x.direction) for x in d.DEFINITIONS
             if x.domain is not None]
    open_data = [x.id in _PER_INHABITANT or x.id in _AS_PUBLISHED for x in specs]
    values = np.array(
        [[_nan(_open_value(r.stats, spec.id) if is_open else r.public_cell(spec.id).value)
          for spec, is_open in zip(specs, open_data, strict=True)]
         for r in (results[b] for b in buurten)],
        dtype=np.float64,
    )
    population = [float(getattr(statistics.get(b), "inhabitants", None) or 0) for b in buurten]
    index = compute_vulnerability_index(buurten, population, values, specs)
    for score in index.areas:
        results[score.code].composite = score
    return index.stability


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


