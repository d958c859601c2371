"""One period's indicators as the snapshot worker keeps them: built once, then per buurt.

A full build loads every buurt's counts with the GROUP BY queries of a computation. An update
(`update`) loads the changed buurten's counts only, moves every total holding them by the
difference and derives their raw values; the public side's changes wait in `pending` until a
protection (`protect_pending`, off the event loop) has protected their components again
(`components.py`) and `protected` / `take_protected` take its outcome in (a part at a
time). The buurten's vulnerability index is derived now and then from every buurt's published
values (`reindex`). What came out is held as the rows the store keeps (`row`): readers read
those, never this.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.composite import METHOD_VERSION, AreaScore, RankStability
from services.indicators.computation import definitions, repository
from services.indicators.computation.engine import (
    AreaResult,
    Computation,
    OpenStatistics,
    SignalCounts,
    buurten_by_area,
    composite_index,
    parents_of,
    raw_value,
    roll_up,
    summed_statistics,
)
from services.indicators.computation.periods import Period
from services.indicators.computation.repository import Cutoffs
from services.indicators.disclosure import DisclosedValue
from services.indicators.snapshots import store
from services.indicators.snapshots.components import (
    Components,
    Protection,
    changed_cells,
)
from services.indicators.snapshots.store import Write
from shared.areacodes import AreaLevel, area_level


class _Zeros(dict[str, DisclosedValue]):
    """The raw side's cells: raw values are computed beside cells, which nobody reads."""

    def __missing__(self, key: str) -> DisclosedValue:
        return _ZERO


_ZERO = DisclosedValue.published(0)
_UNPROTECTED = _Zeros()


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
    _programmes_of: defaultdict[str, list[str]] | None = None

    def results(self, counts: Mapping[str, SignalCounts],
                cells: Mapping[str, Mapping[str, DisclosedValue]] | None
                ) -> dict[str, AreaResult]:
        """The areas of `counts` with their statistics (own, or their buurten's summed) and
        their protected `cells` (None: raw values only, every cell 0)."""
        if self._buurten_of is None:
            self._buurten_of = buurten_by_area(self.statistics, self.members)
        return {code: AreaResult(code, area_level(code), c,
                                 self.statistics.get(code) or summed_statistics(
                                     self._buurten_of.get(code, ()), self.statistics),
                                 _UNPROTECTED if cells is None else cells[code])
                for code, c in counts.items()}

    def totals_of(self, buurt: str) -> list[str]:
        """The areas whose counts hold a buurt's: itself, its parents, its programme areas."""
        if self._programmes_of is None:
            self._programmes_of = defaultdict(list)
            for programme_id, buurten in self.members.items():
                for b in buurten:
                    self._programmes_of[b].append(programme_id)
        return [buurt, *parents_of(buurt), *self._programmes_of.get(buurt, ())]

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


@dataclass(frozen=True, slots=True)
class Pending:
    """A protection to run: `changes` (buurt -> names of the cells it changed), every
    area's public counts as they are now, and those of them that `moved` since the last."""

    changes: dict[str, set[str]]
    counts: dict[str, SignalCounts]
    moved: dict[str, SignalCounts]


def derive_index(results: dict[str, AreaResult], statistics: Mapping[str, OpenStatistics]
                 ) -> tuple[tuple[RankStability, ...], bytes]:
    """The buurten's vulnerability index of `results` (their `composite` set) and its rank
    stability, with the index as the store keeps it."""
    stability = composite_index(results, statistics)
    areas = {code: [None if s.score is None else round(s.score, 4), s.rank, s.decile,
                    {m.value: r for m, r in s.alternative_ranks.items()}]
             for code, r in results.items()
             if (s := r.composite) is not None}
    table = [[s.method.value, s.spearman, s.max_abs_rank_shift, s.median_abs_rank_shift,
              s.share_same_decile] for s in stability]
    return stability, orjson.dumps({"areas": areas, "stability": table},
                                   option=orjson.OPT_SORT_KEYS)


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
    committed_index: bytes = b""  # ... by a write that committed
    index_stale: bool = False  # published values changed since `reindex`
    # Public side: buurt -> names of the cells changed since they were last protected.
    pending: dict[str, set[str]] = field(default_factory=dict)
    # Areas whose public cells a protection changed and whose rows are not stored yet.
    unstored: set[str] = field(default_factory=set)
    # Public side: areas whose counts moved since `protect_pending` last gave them out (a
    # protection in a process of its own keeps a copy of the counts, `protector.py`).
    moved: set[str] = field(default_factory=set)
    _public_json: dict[str, tuple[Mapping[str, DisclosedValue], bytes]] = field(
        default_factory=dict)

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
            # Only the public side is protected: of the raw side, admins read raw values.
            if side is state.public:
                side.protection = Protection(side.rolled, state.components)
            side.results = register.results(
                side.rolled, None if side.protection is None else side.protection.cells)
        state.reindex()
        return state

    def sides(self) -> list[Side]:
        return [self.public] if self.raw is None else [self.public, self.raw]

    async def update(self, session: AsyncSession, buurten: Collection[str]) -> set[str]:
        """Count `buurten` again; returns the codes of the areas computed again.

        Raw values are new at once; the public side's changes wait in `pending` for
        `protect_pending` (until then its areas keep their protected cells).
        """
        if self.raw is None:
            fresh = [await repository.signal_counts(session, self.period, self.cutoffs, buurten)]
        else:
            fresh = list(await repository.public_and_raw_counts(session, self.period,
                                                                self.cutoffs, buurten))
        redone: set[str] = set()
        for side, counts in zip(self.sides(), fresh, strict=True):
            for b in buurten:
                old, new = side.buurten.get(b, SignalCounts()), counts.get(b, SignalCounts())
                totals = self.register.totals_of(b)
                if side is self.public:
                    names = changed_cells(old, new)
                    if names or any(code not in side.results for code in totals):
                        self.pending[b] = self.pending.get(b, set()) | names
                    self.moved.update(totals)
                side.buurten[b] = new  # zeros stay published
                # Every total holding the buurt, by its difference (a copy: a protection
                # running on the counts as they were, and the old results, keep the old one).
                difference = new.copy()
                difference.add(old, -1)
                for code in totals:
                    total = side.rolled[code].copy() if code in side.rolled else SignalCounts()
                    total.add(difference)
                    side.rolled[code] = total
                    redone.add(code)
        public = self.public.results
        self._derive(self.public, [c for c in redone if c in public],
                     {c: public[c].public_counts for c in redone if c in public})
        if self.raw is not None:
            self._derive(self.raw, redone, None)
        return {c for c in redone if c in public}

    def protect_pending(self) -> Pending | None:
        """The public side's pending changes, to protect off the event loop (None: nothing
        pending); `protected` and `take_protected` take the outcome in afterwards.

        It protects the counts as they are now: a shallow copy, since an update replaces
        the counts it changes, never changes them in place.
        """
        if not self.pending:
            return None
        changes, self.pending = self.pending, {}
        rolled = self.public.rolled
        moved, self.moved = {code: rolled[code] for code in self.moved}, set()
        return Pending(changes, dict(rolled), moved)

    def protected(self) -> list[str]:
        """The codes of the areas whose public cells what `protect_pending` protected
        changed (the national relation may change areas far from the changes);
        `take_protected` takes them in."""
        assert self.public.protection is not None
        results = self.public.results
        return [code for code, now in self.public.protection.cells.items()
                if code not in results or (now is not (old := results[code].public_counts)
                                           and now != old)]

    def take_protected(self, codes: Collection[str]) -> None:
        """The results of `codes` (some of `protected`'s) with their new public cells."""
        assert self.public.protection is not None
        self._derive(self.public, codes, self.public.protection.cells)
        if codes:
            self.index_stale = True

    def _derive(self, side: Side, codes: Collection[str],
                cells: Mapping[str, Mapping[str, DisclosedValue]] | None) -> None:
        """The results of `codes` from their counts and `cells` (None: raw values only)."""
        results = self.register.results({c: side.rolled[c] for c in codes}, cells)
        for code, result in results.items():
            # The index is derived again now and then (`reindex`), not at every change.
            old = side.results.get(code)
            result.composite = None if old is None else old.composite
        side.results.update(results)

    def reindex(self, results: dict[str, AreaResult] | None = None) -> None:
        """The buurten's vulnerability index from every buurt's published values (a
        national computation: 0.7 s for 14,000 buurten, so the worker runs it off the event
        loop, at most once per `snapshot_index_interval_s`, and before events of newer
        counts: `lanes.py`). `results`: the public results
        to derive it from (a copy, when an update may replace some meanwhile)."""
        self.index_stale = False
        results = self.public.results if results is None else results
        self.stability, self.index_json = derive_index(results, self.register.statistics)

    def take_index(self, stability: tuple[RankStability, ...], index_json: bytes,
                   scores: Mapping[str, AreaScore]) -> None:
        """An index derived elsewhere from the public side as it is now (`protector.py`)."""
        self.index_stale = False
        self.stability, self.index_json = stability, index_json
        for code, score in scores.items():
            if (result := self.public.results.get(code)) is not None:
                result.composite = score

    def computation(self) -> Computation:
        """The public side as a computation (the events carry it)."""
        return Computation(self.period, METHOD_VERSION, self.public.results,
                           data_until=self.cutoffs.current, rank_stability=self.stability)

    def row(self, code: str) -> AreaRow:
        result = self.public.results[code]
        raw_side = self.raw or self.public
        raw_result = raw_side.results.get(code)
        # The public cells as JSON, made again only when the area's protected cells are
        # another mapping (most rows change in their raw values only).
        made = self._public_json.get(code)
        if made is None or made[0] is not result.public_counts:
            made = self._public_json[code] = (result.public_counts, orjson.dumps(
                [[cell.value, cell.reason] for d in definitions.DEFINITIONS
                 for cell in (result.public_cell(d.id),)]))
        public_json = made[1]
        raw = [None if raw_result is None else raw_value(raw_result, d.id)
               for d in definitions.DEFINITIONS]
        raw_json = orjson.dumps(raw)
        digest = hashlib.sha256(public_json + b"|" + raw_json).hexdigest()
        return AreaRow(code, result.level.value, public_json, raw_json, digest)

    def codes(self) -> list[str]:
        return sorted(self.public.results)

    def buurten(self) -> list[str]:
        return [code for code, r in self.public.results.items() if r.level is AreaLevel.BUURT]

    async def write(self, session: AsyncSession, codes: set[str], *, whole: bool) -> Write:
        """What stores `codes`: the rows that differ from the stored ones (with `whole`, all
        of them), and the index if it did."""
        rows = [self.row(code) for code in sorted(codes) if code in self.public.results]
        if not whole and rows:
            known = await store.digests(session, str(self.period), [r.code for r in rows])
            rows = [r for r in rows if known.get(r.code) != r.digest]
        index = None if self.index_json == self.stored_index else self.index_json
        self.stored_index = self.index_json
        return Write(str(self.period), rows, whole, index if not whole else self.index_json,
                     self.cutoffs.current, codes)
