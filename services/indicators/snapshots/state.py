"""One period's indicators as the snapshot worker keeps them: built once, then per buurt.

A full build loads every buurt's counts with the GROUP BY queries of a computation; an update
loads the changed buurten's counts only, rolls up and protects their components again
(`components.py`), and re-derives the buurten's vulnerability index (from every buurt's
published values, most of them kept from before). What came out is held as the rows the store
keeps (`rows`): readers read those, never this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.composite import METHOD_VERSION, RankStability
from services.indicators.computation import definitions, repository
from services.indicators.computation.engine import (
    AreaResult,
    Computation,
    OpenStatistics,
    SignalCounts,
    buurten_by_area,
    composite_index,
    roll_up,
    summed_statistics,
)
from services.indicators.computation.periods import Period
from services.indicators.computation.repository import Cutoffs
from services.indicators.snapshots.components import (
    Components,
    Protection,
    PublicCounts,
    changed_cells,
)
from shared.areacodes import NATIONAL_CODE, AreaLevel, area_level


@dataclass(frozen=True, slots=True)
class AreaRow:
    """What the store keeps of one area: public cells and raw values as JSON, and a digest."""

    code: str
    level: str
    public: bytes
    raw: bytes
    digest: str


@dataclass
class Register:
    """What a computation takes from the register: statistics, programme areas, codes."""

    statistics: Mapping[str, OpenStatistics]
    members: Mapping[str, list[str]]
    registered: list[str]
    _buurten_of: dict[str, list[str]] | None = None

    def results(self, counts: Mapping[str, SignalCounts], cells: PublicCounts
                ) -> dict[str, AreaResult]:
        """The areas of `counts` with their statistics (own, or their buurten's summed)."""
        if self._buurten_of is None:
            self._buurten_of = buurten_by_area(self.statistics, self.members)
        return {code: AreaResult(code, area_level(code), c,
                                 self.statistics.get(code) or summed_statistics(
                                     self._buurten_of.get(code, ()), self.statistics),
                                 cells[code])
                for code, c in counts.items()}

    @classmethod
    async def load(cls, session: AsyncSession, year: int) -> Register:
        return cls(await repository.open_statistics(session, year),
                   await repository.programme_area_members(session),
                   await repository.registered_codes(session))


@dataclass
class Side:
    """The buurt counts of one kind of reader (public: up to the cutoffs; raw: every fact),
    rolled up and protected, and the areas made of them."""

    buurten: dict[str, SignalCounts]
    rolled: dict[str, SignalCounts] = field(default_factory=dict)
    protection: Protection | None = None
    results: dict[str, AreaResult] = field(default_factory=dict)


@dataclass
class PeriodState:
    period: Period
    cutoffs: Cutoffs
    register: Register
    components: Components
    public: Side
    raw: Side | None  # None: no cutoffs, raw values come from the public side's counts
    stability: tuple[RankStability, ...] = ()
    index_json: bytes = b""
    stored_index: bytes = b""  # the index as last written to the store
    index_stale: bool = False  # an update changed published values since `reindex`

    @classmethod
    async def build(cls, session: AsyncSession, period: Period, cutoffs: Cutoffs
                    ) -> PeriodState:
        register = await Register.load(session, period.year)
        public = Side(await repository.signal_counts(session, period, cutoffs))
        raw = (None if cutoffs == Cutoffs()
               else Side(await repository.signal_counts(session, period)))
        codes = {*public.buurten, *register.registered, *(raw.buurten if raw else ())}
        state = cls(period, cutoffs, register, Components(codes, register.members), public, raw)
        for side in state.sides():
            side.rolled = roll_up(side.buurten, register.members, register.registered)
            side.protection = Protection(side.rolled, state.components)
            side.results = register.results(side.rolled, side.protection.cells)
        state.reindex()
        return state

    def sides(self) -> list[Side]:
        return [self.public] if self.raw is None else [self.public, self.raw]

    async def update(self, session: AsyncSession, buurten: Collection[str]) -> set[str]:
        """Count `buurten` again; returns the codes of the areas computed again."""
        fresh = [await repository.signal_counts(session, self.period, self.cutoffs, buurten)]
        if self.raw is not None:
            fresh.append(await repository.signal_counts(session, self.period, areas=buurten))
        touched = {c for b in buurten if (c := self.components.of(b)) is not None}
        redone: set[str] = set()
        for side, counts in zip(self.sides(), fresh, strict=True):
            assert side.protection is not None
            names: set[str] = set()
            for b in buurten:
                new = counts.get(b, SignalCounts())  # zeros stay published
                names |= changed_cells(side.buurten.get(b, SignalCounts()), new)
                side.buurten[b] = new
            in_touched = [b for b in side.buurten if self.components.of(b) in touched]
            registered = [c for c in self.register.registered
                          if self.components.of(c) in touched]
            rolled = roll_up({b: side.buurten[b] for b in in_touched},
                             {k: v for k, v in self.register.members.items()
                              if self.components.of(k) in touched}, registered)
            rolled.pop(NATIONAL_CODE)
            side.rolled.update(rolled)
            side.rolled[NATIONAL_CODE] = _national(side.rolled)
            side.protection.update(side.rolled, buurten, names)
            cells = side.protection.cells
            redone |= {*rolled, NATIONAL_CODE}
            # The national relation may have changed cells of areas elsewhere.
            redone |= {code for code, result in side.results.items()
                       if cells[code] is not result.public_counts}
            results = self.register.results({c: side.rolled[c] for c in redone}, cells)
            for code, result in results.items():
                # The index is derived again now and then (`reindex`), not at every update.
                old = side.results.get(code)
                result.composite = None if old is None else old.composite
            side.results.update(results)
        self.index_stale = True
        return redone

    def reindex(self) -> None:
        """The buurten's vulnerability index from every buurt's published values (a
        national computation: 0.7 s for 14,000 buurten, so the worker runs it at most once
        per `snapshot_index_interval_s`, not at every update)."""
        self.index_stale = False
        self.stability = composite_index(self.public.results, self.register.statistics)
        areas = {code: [None if s.score is None else round(s.score, 4), s.rank, s.decile,
                        {m.value: r for m, r in s.alternative_ranks.items()}]
                 for code, r in self.public.results.items()
                 if (s := r.composite) is not None}
        stability = [[s.method.value, s.spearman, s.max_abs_rank_shift,
                      s.median_abs_rank_shift, s.share_same_decile] for s in self.stability]
        self.index_json = orjson.dumps({"areas": areas, "stability": stability},
                                       option=orjson.OPT_SORT_KEYS)

    def computation(self) -> Computation:
        """The public side as a computation (the events carry it)."""
        return Computation(self.period, METHOD_VERSION, self.public.results,
                           data_until=self.cutoffs.current, rank_stability=self.stability)

    def row(self, code: str) -> AreaRow:
        result = self.public.results[code]
        raw_side = self.raw or self.public
        raw_result = raw_side.results.get(code)
        public = [[cell.value, cell.reason] for d in definitions.DEFINITIONS
                  for cell in (result.public_cell(d.id),)]
        raw = [None if raw_result is None else raw_result.value(d.id)[0]
               for d in definitions.DEFINITIONS]
        public_json = orjson.dumps(public)
        raw_json = orjson.dumps(raw)
        digest = hashlib.sha256(public_json + b"|" + raw_json).hexdigest()
        return AreaRow(code, result.level.value, public_json, raw_json, digest)

    def codes(self) -> list[str]:
        return sorted(self.public.results)


def _national(rolled: Mapping[str, SignalCounts]) -> SignalCounts:
    total = SignalCounts()
    for code, counts in rolled.items():
        if area_level(code) is AreaLevel.GEMEENTE:
            total.add(counts)
    return total
