"""What API readers read: the stored snapshots, held in memory per period and refreshed by the
rows written since (`store.rows_since`), never computed here.

A period is checked against its stored head at most every `refresh_s`, by one reader at a
time; the others read what is held meanwhile. The reader that checks waits for one page of
what changed at most: a refresh of more (thousands of rows after a protection, the index of
every buurt) goes on in the background, and it answers from what is held. (Waited for whole,
those refreshes were the slowest one in a hundred reads nationally.) A period never stored
is asked of the worker (`store.request`) and waited for up to `wait_s`, then a 503 problem
with `Retry-After`. Rows are loaded in pages of `PAGE`, so no load holds the event loop for
long, and taken in at once at the end: no reader sees half a refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.composite import AreaScore, Normalisation, RankStability
from services.indicators.computation import definitions
from services.indicators.computation.engine import Cell, Computation
from services.indicators.computation.periods import Period, PeriodBounds
from services.indicators.computation.service import PeriodBoundsCache
from services.indicators.models import IndicatorSnapshot
from services.indicators.snapshots import store
from shared.areacodes import AreaLevel
from shared.fastpath import untracked_rows
from shared.problems import ServiceUnavailable
from shared.runtime import unavailable_as_503

log = logging.getLogger(__name__)

_INDEX = {d.id: i for i, d in enumerate(definitions.DEFINITIONS)}
# Rows (and index entries) taken in per turn of the event loop: about 10 ms of it.
PAGE = 500


class StoredArea:
    """One area of a stored snapshot, read as a computation's `AreaResult` is.

    Its cells are read from the stored JSON when first asked for: under intake a reader
    loads hundreds of changed rows a second, most of which change again before anyone reads
    them. They are kept as tuples, which the garbage collector stops walking
    (shared.fastpath.untracked_rows). `answers(raw)` holds the bytes readers were answered
    about it, with their ETag (made by reporting, keyed by the kind of answer), apart for
    public cells and for raw values. They are as current as the area: a new row makes a
    new StoredArea, which keeps the public answers when its public cells are the same (its
    raw values moved), and a new index entry (`composite`) drops them.
    """

    __slots__ = ("_answers", "_cells", "_composite", "_stored", "code", "level")

    def __init__(self, code: str, level: str, public: str, raw: str) -> None:
        self.code, self.level = code, AreaLevel(level)
        self._stored = (public, raw)
        self._cells: tuple[tuple[tuple[object, ...], ...], tuple[object, ...]] | None = None
        self._composite: AreaScore | None = None
        # Public answers, raw answers.
        self._answers: tuple[dict[Hashable, tuple[bytes, bytes]],
                             dict[Hashable, tuple[bytes, bytes]]] | None = None

    @property
    def composite(self) -> AreaScore | None:
        return self._composite

    @composite.setter
    def composite(self, score: AreaScore | None) -> None:
        self._composite = score
        self._answers = None

    def answers(self, raw: bool) -> dict[Hashable, tuple[bytes, bytes]]:
        """The answers kept of the area's raw values (`raw`) or of its public cells."""
        if self._answers is None:
            self._answers = ({}, {})
        return self._answers[1 if raw else 0]

    def keep_public_answers(self, old: StoredArea) -> None:
        """Take over `old`'s public answers: its row before this one, with the same public
        cells and index entry."""
        self._composite = old.composite
        self._answers = None if old._answers is None else (old._answers[0], {})

    def value(self, indicator: str) -> tuple[float | None, Cell]:
        if self._cells is None:
            public, raw_values = self._stored
            self._cells = (untracked_rows(public), tuple(orjson.loads(raw_values)))
        i = _INDEX[indicator]
        value, reason = self._cells[0][i]
        raw = self._cells[1][i]
        return (None if raw is None else float(raw),  # type: ignore[arg-type]
                Cell(None if value is None else float(value),  # type: ignore[arg-type]
                     None if reason is None else str(reason)))

    def public_cell(self, indicator: str) -> Cell:
        return self.value(indicator)[1]

    @property
    def public_json(self) -> str:
        return self._stored[0]


def _report_failure(task: asyncio.Task[None]) -> None:
    """A failed refresh (the reader that waited for it, if any, answered a 503): the next
    reader tries again."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("snapshot refresh failed", extra={"error": repr(exc)})


def _being_computed(periods: str) -> ServiceUnavailable:
    problem = ServiceUnavailable(
        f"the indicators of {periods} are being computed; try again shortly")
    problem.headers["Retry-After"] = "10"
    return problem


@dataclass
class StoredPeriod:
    period: Period
    seq: int = 0
    generation: int = -1
    index_seq: int = -1
    public_seq: int = -1  # the last seq that changed an area's public cells
    method_version: str = ""
    data_until: datetime | None = None
    areas: dict[str, StoredArea] = field(default_factory=dict)
    stability: tuple[RankStability, ...] = ()
    checked: float = 0.0
    refreshing: asyncio.Task[None] | None = None  # the one refresh under way

    def computation(self) -> Computation:
        return Computation(self.period, self.method_version, self.areas,  # type: ignore[arg-type]
                           data_until=self.data_until, rank_stability=self.stability)


class SnapshotReader:
    """The indicators readers read (`get`), and the period bounds of their parameters."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 writes: async_sessionmaker[AsyncSession], bounds: PeriodBoundsCache,
                 *, refresh_s: float = 0.05, wait_s: float = 30.0, held: int = 8) -> None:
        self._sessions = sessions  # reads only
        self._writes = writes
        self._bounds = bounds
        self.grace_days = bounds.grace_days
        self.refresh_s, self.wait_s, self.held = refresh_s, wait_s, held
        self._periods: OrderedDict[str, StoredPeriod] = OrderedDict()
        self._refreshing: set[asyncio.Task[None]] = set()  # stopped by `close`

    async def bounds_for(self, period: Period) -> PeriodBounds:
        """The bounds of period parameters, read through this reader's own sessions."""
        with unavailable_as_503():
            async with self._sessions() as own:
                return await self._bounds.bounds_for(own, period)

    def clear(self) -> None:
        """After a write to the register: bounds again, and the heads checked at once."""
        self._bounds.clear()
        for stored in self._periods.values():
            stored.checked = 0.0

    def version(self, period: Period, of: Literal["raw", "public", "index"] = "raw"
                ) -> Hashable:
        """The period as last loaded, as far as an answer derived from it depends on: its
        `raw` values change at nearly every stored row, its `public` cells only when a
        protection changed them, its `index` when derived again. (Under intake the worker
        stores raw values several times a second; an analyst's ranking made again for each
        was the same bytes, 14,000 buurten at a time.)"""
        stored = self._periods.get(str(period))
        if stored is None:
            return None
        seq = {"raw": stored.seq, "public": stored.public_seq, "index": stored.index_seq}[of]
        return (stored.generation, seq, stored.method_version, stored.data_until)

    async def area_series(self, code: str, periods: list[Period]) -> list[Computation]:
        """`code`'s figures in each of `periods` (a series' page), without loading whole
        periods: a held period is read as held, of the others only the area's row. (Loaded
        whole, a series of 12 months loaded more periods of 14,000 areas than are held, at
        every read: 1.7 s each nationally.) Periods never stored are asked of the worker
        together and waited for up to `wait_s` in all, then a 503 problem."""
        keys = [str(p) for p in periods]
        held = {k for k in keys if k in self._periods and self._periods[k].generation >= 0}
        unheld = [k for k in keys if k not in held]
        stored: dict[str, tuple[str, datetime | None]] = {}
        rows: dict[str, tuple[str, str, str]] = {}
        with unavailable_as_503():
            if unheld:
                stored, rows = await self._area_rows(code, unheld)
            missing = [k for k in unheld if k not in stored]
            if missing:
                await self._ask_and_wait(missing)
                more, more_rows = await self._area_rows(code, missing)
                stored.update(more)
                rows.update(more_rows)
        out: list[Computation] = []
        for period, key in zip(periods, keys, strict=True):
            if key not in stored:
                out.append(await self.get(period))
                continue
            method_version, data_until = stored[key]
            row = rows.get(key)
            areas = {} if row is None else {code: StoredArea(code, *row)}
            out.append(Computation(period, method_version, areas,  # type: ignore[arg-type]
                                   data_until=data_until))
        return out

    async def _ask_and_wait(self, keys: list[str]) -> None:
        """Ask the worker for the periods `keys` (never stored) and wait until all are
        stored, up to `wait_s`; else a 503 problem."""
        # In a transaction of its own, committed at once, so the worker sees it while this
        # reader waits. (A read endpoint leaves the request's session unused: on SQLite that
        # would hold this process's one writing connection meanwhile.)
        async with self._writes() as own, own.begin():
            for key in keys:
                await store.request(own, key)
        deadline = time.monotonic() + self.wait_s
        found: dict[str, tuple[str, datetime | None]] = {}
        while len(found) < len(keys) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            async with self._sessions() as session:
                found = await store.stored_versions(session, keys)
        if len(found) < len(keys):
            raise _being_computed(", ".join(k for k in keys if k not in found))

    async def _area_rows(self, code: str, keys: list[str]
                         ) -> tuple[dict[str, tuple[str, datetime | None]],
                                    dict[str, tuple[str, str, str]]]:
        """Which of `keys` are stored (method version, data until) and `code`'s row in each,
        from one snapshot of the database."""
        async with self._sessions() as session:
            stored = await store.stored_versions(session, keys)
            return stored, await store.area_rows(session, code, list(stored))

    async def get(self, period: Period) -> Computation:
        """The stored indicators of `period` (raw values and public cells in each area).

        Readers need no session of the request: this reader reads through its own, and a
        read endpoint that opened one would pay for a transaction it never uses (a tenth of
        an area read's CPU at national scale)."""
        key = str(period)
        stored = self._periods.get(key)
        if stored is None:
            stored = self._periods[key] = StoredPeriod(period)
            while len(self._periods) > self.held:
                self._periods.popitem(last=False)
        self._periods.move_to_end(key)
        if time.monotonic() - stored.checked >= self.refresh_s:
            await self._refresh_soon(stored)
        return stored.computation()

    async def _refresh_soon(self, stored: StoredPeriod) -> None:
        """Refresh `stored`, one refresh at a time. With nothing held yet, every reader waits
        for it. Else the reader that starts it waits until it is done or about to load a
        second page (it goes on in the background), and the others read what is held. A
        refresh that fails while waited for fails the read (a 503 when the database is
        locked)."""
        task = stored.refreshing
        if task is not None and not task.done():
            if stored.generation >= 0:
                return  # another reader is refreshing it
            await asyncio.shield(task)  # one reader leaving does not stop the others' load
            return
        paged = asyncio.Event()
        task = stored.refreshing = asyncio.create_task(self._refresh(stored, paged),
                                                       name=f"refresh {stored.period}")
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)
        task.add_done_callback(_report_failure)
        if stored.generation < 0:
            await asyncio.shield(task)
            return
        paging = asyncio.create_task(paged.wait())
        try:
            await asyncio.wait({task, paging}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            paging.cancel()
        if task.done():
            task.result()

    async def close(self) -> None:
        """Stop the refreshes going on in the background."""
        for task in list(self._refreshing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _refresh(self, stored: StoredPeriod, paged: asyncio.Event) -> None:
        """Load what changed since `stored` was loaded; `paged` is set before a second page
        (of rows or of the index)."""
        with unavailable_as_503():
            await self._load(stored, paged)

    async def _load(self, stored: StoredPeriod, paged: asyncio.Event) -> None:
        key = str(stored.period)
        head = await self._head(key)
        if head is None:
            await self._ask_and_wait([key])
            head = await self._head(key)
            if head is None:
                raise _being_computed(key)
        seq, generation, index_seq, method_version, data_until = head
        anew = generation != stored.generation  # stored whole again: every row is new
        areas, public_moved = (
            await self._load_rows(stored, key, 0 if anew else stored.seq, anew, paged)
            if seq > stored.seq or anew else (stored.areas, False))
        index = (await self._load_index(key, paged)
                 if index_seq != stored.index_seq or anew else None)
        # Taken in all in one turn of the loop: no reader sees half of it.
        stored.areas = areas
        if index is not None:
            scores, stored.stability = index
            for code, each in areas.items():
                each.composite = scores.get(code)
        if public_moved:
            stored.public_seq = seq
        stored.seq, stored.generation, stored.index_seq = seq, generation, index_seq
        stored.method_version, stored.data_until = method_version, data_until
        stored.checked = time.monotonic()

    async def _head(self, key: str) -> tuple[int, int, int, str, datetime | None] | None:
        s = IndicatorSnapshot
        async with self._sessions() as session:
            row = (await session.execute(
                select(s.seq, s.generation, s.index_seq, s.method_version, s.data_until)
                .where(s.period == key))).first()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    async def _load_rows(self, stored: StoredPeriod, key: str, since: int, anew: bool,
                         paged: asyncio.Event) -> tuple[dict[str, StoredArea], bool]:
        """The held areas with the rows written after `since` (`anew`: only those), and
        whether any area's public cells changed (or an area came)."""
        after = ""
        areas = {} if anew else dict(stored.areas)
        public_changed = anew
        while True:
            async with self._sessions() as session:
                page = await store.rows_since(session, key, since, after, limit=PAGE)
            for code, level, _, public, raw in page:
                area = StoredArea(code, level, public, raw)
                old = areas.get(code)
                if old is None or old.public_json != public:
                    public_changed = True
                    area.composite = None if old is None else old.composite
                else:  # only its raw values moved
                    area.keep_public_answers(old)
                areas[code] = area
            if len(page) < PAGE:
                break
            after = page[-1][0]
            paged.set()
            await asyncio.sleep(0)  # let other requests in between pages
        return areas, public_changed

    async def _load_index(self, key: str, paged: asyncio.Event
                          ) -> tuple[dict[str, AreaScore], tuple[RankStability, ...]]:
        """The stored vulnerability index: each buurt's score, and the rank stability."""
        async with self._sessions() as session:
            text = await session.scalar(select(IndicatorSnapshot.vulnerability_index)
                                        .where(IndicatorSnapshot.period == key))
        index = orjson.loads(text or "{}")
        scores: dict[str, AreaScore] = {}
        for i, (code, (score, rank, decile, alternatives)) in enumerate(
                index.get("areas", {}).items()):
            scores[code] = AreaScore(code, score, rank, decile, {},
                                     {Normalisation(m): r for m, r in alternatives.items()},
                                     None)
            if i % PAGE == PAGE - 1:
                paged.set()
                await asyncio.sleep(0)  # 14,000 buurten: let requests in between
        return scores, tuple(
            RankStability(Normalisation(m), spearman, max_shift, median_shift, share)
            for m, spearman, max_shift, median_shift, share in index.get("stability", []))
