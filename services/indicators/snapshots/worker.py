"""The snapshot worker: keeps every stored period's indicators up to date from the marks.

One round (`SnapshotWorker.round`): take the marks (buurt and month of every changed fact, or a
change of the register) and the periods readers asked for; compute what they touch, a changed
buurt's component only where the period is held in memory (`state.py`), whole otherwise; store
the rows that changed (`store.py`); and, for the current rolling period, write the
`area-indicators-updated` events of the areas it touched (the publisher's digests keep
unchanged areas quiet). Marks, rows and events are written in one transaction.

Stored are always the current rolling period and the current month, so every month is stored
from the time it is current on; other periods (months before the first start, other rolling
periods) when first asked for. Stored periods stay stored; a late signal corrects them like any
other mark. (Filling in every earlier month when idle was tried: at national scale a round
then holds new marks back for a whole computation, 6-8 s, at every start.)

It runs in a process of its own (`python -m services.indicators.snapshots.worker`, started and
watched by the service, see `process.py`): a national computation takes seconds of CPU, which
must not stall the API's event loop. `inline` runs the same rounds in the API's process (tests,
tiny set-ups).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.composite import METHOD_VERSION
from services.indicators.computation.periods import (
    GRACE_DAYS,
    Period,
    current_period,
    parse_period,
)
from services.indicators.computation.service import public_cutoffs
from services.indicators.publication import repository as publication_repository
from services.indicators.publication.service import publish_dirty
from services.indicators.snapshots import store
from services.indicators.snapshots.state import AreaRow, PeriodState
from shared.db import try_exclusive, utcnow
from shared.periodic import PeriodicTask
from shared.tracing import worker_span

log = logging.getLogger(__name__)

Mark = tuple[str, str, datetime]


def touches(period: Period, month: str) -> bool:
    """Whether facts of `month` count in `period`: in it, in its previous period (the trend)
    or in the 12 months of its stacking window."""
    stack = Period("rolling-12m", period.last_month)
    first = min(period.previous().first_month, stack.first_month)
    return first <= month <= period.last_month


class TakenElsewhere(Exception):
    """Another worker holds the write lock (PostgreSQL's advisory lock)."""


@dataclass
class Write:
    """A period's rows to store (with `whole`, all of them) and its index when it changed."""

    period: str
    rows: list[AreaRow]
    whole: bool
    index_json: bytes | None
    data_until: datetime | None


class SnapshotWorker:
    """Rounds of snapshot updates; holds up to `held` periods in memory.

    A round computes from reads (`reads`: on SQLite plain transactions, which neither wait
    for nor block the service's writers), then writes in one short transaction.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 reads: async_sessionmaker[AsyncSession] | None = None, *, source: str,
                 publish_events: bool = True, debounce_s: float = 1.0,
                 index_interval_s: float = 2.0,
                 grace_days: int = GRACE_DAYS, held: int = 4,
                 after_commit: Callable[[], None] = lambda: None,
                 tracer: Tracer | None = None) -> None:
        self._sessions = sessions
        self._reads = reads or sessions
        self._source = source
        self._publish = publish_events
        self._grace_days = grace_days
        self._held = held
        self._after_commit = after_commit
        self._debounce_s = debounce_s
        self._index_interval_s = index_interval_s
        self._indexed_at: dict[str, float] = {}
        self._published_at = -debounce_s
        self.tracer = tracer
        self._states: OrderedDict[str, PeriodState] = OrderedDict()
        self._lock = asyncio.Lock()  # one round at a time (a test's `settle` and the loop)

    async def round(self) -> bool:
        """One round; False when nothing was to be done."""
        async with self._lock:
            try:
                return await self._round()
            except TakenElsewhere:
                return False
            except BaseException:
                # What is held may be half updated (counts without their protection): the
                # next round builds from the facts again; the marks are still there.
                self._states.clear()
                raise

    async def _round(self) -> bool:
        now = utcnow()
        current = current_period(now)
        async with self._reads() as session:
            marks = await store.marks(session)
            asked = await store.requests(session)
            stored = set(await store.stored_periods(session))
            whole: set[str] = {str(p) for p in (current, current_period(now, "month"))
                               if str(p) not in stored}
            whole.update(p for p in asked if p not in stored)
            if any(store.ALL in (code, month) for code, month, _ in marks):
                self._states.clear()
                whole.update(stored)
            changed: dict[str, set[str]] = defaultdict(set)  # period -> buurten
            for code, month, _ in marks:
                if store.ALL not in (code, month):
                    for period in stored - whole:
                        if touches(parse_period(period), month):
                            changed[period].add(code)
            # Events at most once per debounce interval: a burst becomes one per area.
            loop = asyncio.get_running_loop()
            # The dirty marks are read here, with the facts the round counts: a mark made
            # after this read waits for the next round (else its area would be published
            # without its new facts, and its mark cleared).
            dirty = (await publication_repository.dirty_marks(session)
                     if self._publish and loop.time() - self._published_at >= self._debounce_s
                     else [])
            publish = bool(dirty)
            writes: list[Write] = []
            for period, held in self._states.items():
                if (held.index_stale and period not in changed
                        and self._index_due(period, loop.time())):
                    writes.append(self._reindexed(held, loop.time()))
            if (not whole and not changed and not marks and not asked and not publish
                    and not writes):
                return False
            first = str(current)  # what most readers read: stored first, on its own
            for period in sorted(whole, key=lambda p: (p != first, p)):
                writes.append(await self._compute(session, parse_period(period), now, None))
                await self._store(writes, now)
            for period, buurten in sorted(changed.items(), key=lambda i: (i[0] != first, i)):
                writes.append(await self._compute(session, parse_period(period), now, buurten))
                await self._store(writes, now)
            fresh = self._states.get(first)
            if publish and fresh is not None and fresh.index_stale:
                # Events carry each area's index: derived again first, as readers get it.
                writes.append(self._reindexed(fresh, loop.time()))
        await self._store(writes, now)
        events = 0
        async with self._sessions() as session, session.begin():
            if not await try_exclusive(session, "indicators.snapshots"):
                return False
            state = self._states.get(str(current))
            if publish and state is not None:
                with worker_span(self.tracer, "publish indicators"):
                    events = await publish_dirty(session, self._source, now, self._grace_days,
                                                 computation=state.computation(), marks=dirty)
                self._published_at = loop.time()
            for period in asked:
                await store.clear_request(session, period)
            await store.clear_marks(session, marks)
        if events:
            self._after_commit()
        return True

    async def _store(self, writes: list[Write], now: datetime) -> None:
        """Store what `writes` holds, in a short transaction of its own, and empty it."""
        todo = [w for w in writes if w.rows or w.whole or w.index_json is not None]
        writes.clear()
        if not todo:
            return
        async with self._sessions() as session, session.begin():
            if not await try_exclusive(session, "indicators.snapshots"):
                # Another worker is writing the same marks: this round ends, its marks stay.
                raise TakenElsewhere
            for w in todo:
                await store.write(session, w.period, w.rows, whole=w.whole,
                                  index_json=w.index_json, computed_at=now,
                                  data_until=w.data_until, method_version=METHOD_VERSION)

    async def _compute(self, session: AsyncSession, period: Period, now: datetime,
                       buurten: set[str] | None) -> Write:
        cutoffs = public_cutoffs(period, now, self._grace_days)
        state = self._states.get(str(period))
        if state is not None and state.cutoffs == cutoffs and buurten is not None:
            self._states.move_to_end(str(period))
            codes = await state.update(session, buurten)
            loop = asyncio.get_running_loop()
            if self._index_due(str(period), loop.time()):
                state.reindex()
                self._indexed_at[str(period)] = loop.time()
            rows = [state.row(code) for code in sorted(codes) if code in state.public.results]
            known = await store.digests(session, str(period), [row.code for row in rows])
            index = None if state.index_json == state.stored_index else state.index_json
            state.stored_index = state.index_json
            return Write(str(period), [r for r in rows if known.get(r.code) != r.digest],
                         False, index, cutoffs.current)
        state = await PeriodState.build(session, period, cutoffs)
        self._states[str(period)] = state
        self._states.move_to_end(str(period))
        while len(self._states) > self._held:
            self._states.popitem(last=False)
        state.stored_index = state.index_json
        return Write(str(period), [state.row(c) for c in state.codes()], True,
                     state.index_json, cutoffs.current)

    def _index_due(self, period: str, at: float) -> bool:
        return at - self._indexed_at.get(period, -self._index_interval_s) \
            >= self._index_interval_s

    def _reindexed(self, state: PeriodState, at: float) -> Write:
        state.reindex()
        self._indexed_at[str(state.period)] = at
        index = None if state.index_json == state.stored_index else state.index_json
        state.stored_index = state.index_json
        return Write(str(state.period), [], False, index, state.cutoffs.current)


class InlineWorker(PeriodicTask):
    """The worker's rounds, every `poll_s`, at once again while there is more to do; a failed
    round backs off (its marks stay). In the worker's process, or inline in the service's."""

    name = "snapshot-worker"

    def __init__(self, worker: SnapshotWorker, poll_s: float) -> None:
        super().__init__(interval_s=poll_s, max_backoff_s=5.0)
        self.worker = worker

    async def tick(self) -> float | None:
        return 0.0 if await self.worker.round() else None

    async def failed(self, exc: Exception) -> None:
        log.warning("snapshot round failed; retrying", extra={"error": repr(exc)})


async def settle(worker: SnapshotWorker, rounds: int = 500) -> None:
    """Run rounds until one finds nothing to do (what tests call before they read)."""
    for _ in range(rounds):
        if not await worker.round():
            return
    raise RuntimeError(f"snapshots still changing after {rounds} rounds")
