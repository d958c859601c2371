"""The snapshot worker: keeps every stored period's indicators up to date from the marks.

A round (`SnapshotWorker.round`) takes the marks (buurt and month of every changed fact, or a
change of the register) and the periods readers asked for, counts what they touch again (only
the changed buurten where the period is held in memory, `state.py`; else the whole period) and
stores the rows that changed (`store.py`), raw values at once. The current rolling period,
which most readers read, counts its new marks at every round and stores them first; the other
periods count every mark, and the marks are cleared, once every `OTHERS_INTERVAL_S` or when
the rolling period has nothing new. Protecting the public side again (seconds of CPU
nationally) runs meanwhile in a child process (`lanes.py`, `protector.py`; a thread inline); the
rows whose public cells it changed are stored a part per round, then the
`area-indicators-updated` events of the marks it covered (the publisher's digests keep
unchanged areas quiet).

Stored are always the current rolling period and the current month, so every month is stored
from the time it is current on; other periods (months before the first start, other rolling
periods) when first asked for. Stored periods stay stored; a late signal corrects them like any
other mark. A period let go (or held by a worker that stopped) before its public side caught
up with its raw counts is built again (`catch_up.py`). (Filling in every earlier month when
idle was tried: at national scale a round then holds new marks back for a whole
computation, 6-8 s, at every start.)

It runs in a process of its own (`process.py`, started by the service): a national computation
takes seconds of CPU, which must not stall the API's event loop; `inline` runs the same rounds
in the API's process (tests, tiny set-ups). One worker per database works, the others (every
API replica's, left at the default) stand by (`shared.lease`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Collection
from datetime import datetime

from opentelemetry.trace import Tracer
from sqlalchemy.exc import DBAPIError
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
from services.indicators.snapshots import store
from services.indicators.snapshots.catch_up import CatchUp
from services.indicators.snapshots.lanes import Lanes
from services.indicators.snapshots.leadership import Leadership, LeaseLost, TakenElsewhere
from services.indicators.snapshots.protector import protector
from services.indicators.snapshots.publishing import Publishing
from services.indicators.snapshots.state import PeriodState
from services.indicators.snapshots.store import Write
from shared.db import utcnow
from shared.fastpath import freeze_held_objects

log = logging.getLogger(__name__)
# Rows of a protection's changed public cells built and stored per round (about 0.1 s of
# work nationally): each round comes back soon to the new marks.
ROWS_PER_ROUND = 500
# How often the other periods count the marks (and a protection's rows are stored) while
# the current rolling period has new marks to count at every round.
OTHERS_INTERVAL_S = 0.5

Mark = tuple[str, str, datetime]


class SnapshotWorker:
    """Rounds of snapshot updates; holds up to `held` periods in memory.

    Two speeds: raw values at every round (reads on SQLite in plain transactions, which
    neither wait for nor block the service's writers; writes in short ones), public cells
    when a protection (`components.py`) done off the rounds on the counts of its start is
    taken in. Until then an area keeps the cells of its last protection: every published cell is
    always one protection's outcome.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 reads: async_sessionmaker[AsyncSession] | None = None, *, source: str,
                 publish_events: bool = True, debounce_s: float = 1.0,
                 index_interval_s: float = 2.0, protect_interval_s: float = 0.0,
                 republish_interval_s: float = 600.0,
                 grace_days: int = GRACE_DAYS, held: int = 4,
                 after_commit: Callable[[], None] = lambda: None,
                 tracer: Tracer | None = None, freeze_held: bool = False,
                 protect_in_process: bool = False) -> None:
        self._sessions = sessions
        # In the worker's own process: what it holds is frozen for the garbage collector
        # (`shared.fastpath`). Not inline: the service's objects in flight would be too.
        self._freeze = freeze_held_objects if freeze_held else lambda: None
        self._reads = reads or sessions
        self._source = source
        self._grace_days = grace_days
        self._held = held
        self.tracer = tracer
        self._states: OrderedDict[str, PeriodState] = OrderedDict()
        # One protection at a time: they are CPU work, and the rounds need the other core.
        self._protector = protector(protect_in_process)
        self._lanes = Lanes(self._protector, self._reads, source=source,
                            protect_interval_s=protect_interval_s,
                            index_interval_s=index_interval_s,
                            republish_interval_s=republish_interval_s, freeze=self._freeze,
                            tracer=tracer)
        self._lock = asyncio.Lock()  # one round at a time (a test's `settle` and the loop)
        # The marks the first period has counted, not cleared yet (the others count them
        # later), and for which first period.
        self._counted: dict[tuple[str, str], datetime] = {}
        self._counted_for = ""
        self._others_at = -OTHERS_INTERVAL_S
        self._catch_up = CatchUp()  # periods whose public side waits, to build again
        self._unbuilt: set[str] = set()  # built, their whole write not committed yet
        self._updating: set[str] = set()  # periods with marks to count, as the round read
        self._leadership = Leadership(sessions.kw["bind"])  # one worker per database
        self._publishing = Publishing(sessions, self._leadership, self._lanes,
                                      enabled=publish_events, debounce_s=debounce_s,
                                      after_commit=after_commit, tracer=tracer)
        self._closed = False

    @property
    def leading(self) -> bool:
        """Whether this worker held the lease at its last round (else it stands by)."""
        return self._leadership.held

    async def round(self) -> bool:
        """One round; False when nothing was to be done, or another worker holds the lease."""
        async with self._lock:
            if self._closed:
                return False
            if not await self._leadership.hold():
                self._start_anew()
                return False
            try:
                return await self._round()
            except TakenElsewhere:
                self._unwritten()
                return False
            except LeaseLost:
                self._start_anew()
                return False
            except DBAPIError:
                self._unwritten()
                # A read or a write failed (e.g. a lock waited for too long): what is held
                # changes only after its reads and is stored again from the marks, which stay,
                # and from `unstored`. Building every period again would only add to the load.
                raise
            except BaseException:
                # What is held may be half updated (counts without their protection): let
                # go, and built from the facts again where its public side was behind.
                self._forget(list(self._states))
                self._lanes.drop_all()
                self._counted.clear()
                raise

    def _start_anew(self) -> None:
        """Hold nothing, as a worker that has just started: one that lost the lease stands
        by, and another may change every stored period meanwhile (what it left behind is
        stored as such: `public_behind`, with the marks)."""
        self._forget(list(self._states))
        self._lanes.drop_all()
        self._publishing.lane = None
        self._counted, self._counted_for = {}, ""
        self._catch_up = CatchUp()
        self._lanes.changed(anew=True)
        self._unbuilt.clear()

    def _unwritten(self) -> None:
        """A round's writes did not commit: the indices it wrote are written again (whole
        builds wait in `_unbuilt`; other rows in `unstored`, or are compared with the
        stored ones when counted again)."""
        for state in self._states.values():
            state.stored_index = state.committed_index

    async def close(self) -> None:
        """Stop protecting (the child process, if any, ends) and hand the lease over."""
        async with self._lock:  # after the round in hand
            self._closed = True
            self._forget(list(self._states))
            self._protector.shutdown()
            await self._leadership.release()

    async def _round(self) -> bool:
        now = utcnow()
        current = current_period(now)
        first = str(current)  # what most readers read: stored first, on its own
        loop = asyncio.get_running_loop()
        if self._counted_for != first:
            self._counted, self._counted_for = {}, first
        async with self._reads() as session:
            marks = await store.marks(session)
            asked = await store.requests(session)
            stored = await store.stored_periods(session)
            self._catch_up.read(stored)
            whole: set[str] = {str(p) for p in (current, current_period(now, "month"))
                               if str(p) not in stored}
            whole.update(p for p in asked if p not in stored)
            if any(store.ALL in (code, month) for code, month, _ in marks):
                self._forget(list(self._states))
                self._counted.clear()
                whole.update(stored)
            # The first period counts the marks it has not counted yet, at every round. The
            # others (and a protection's rows) count every mark, once every
            # OTHERS_INTERVAL_S or when the first has nothing new: done at every round, their
            # work made a new signal wait twice as long for the next round.
            # (What another worker cleared is forgotten here too.)
            self._counted = {(c, m): at for c, m, at in marks
                             if self._counted.get((c, m)) == at}
            fresh = [m for m in marks if self._counted.get((m[0], m[1])) != m[2]]
            others = (bool(whole) or not fresh
                      or loop.time() - self._others_at >= OTHERS_INTERVAL_S)
            changed: dict[str, set[str]] = defaultdict(set)  # period -> buurten
            touched: set[str] = set()  # periods with marks to count, now or later
            updated = {period: parse_period(period) for period in stored if period not in whole}
            for code, month, at in marks:
                if store.ALL in (code, month):
                    continue
                new = self._counted.get((code, month)) != at
                for period, parsed in updated.items():
                    if parsed.counts(month):
                        touched.add(period)
                        if new if period == first else others:
                            changed[period].add(code)
            # Events at most once per debounce interval: a burst becomes one per area.
            # The dirty marks are read here, with the facts the round counts: a mark made
            # after this read waits for a later round (else its area would be published
            # without its new facts, and its mark cleared). Only when their lane can start:
            # read while it cannot, they made every round one with work to do, and the
            # rounds ran on without a turn of the event loop for the lane to go on.
            dirty = (await publication_repository.dirty_marks(session)
                     if self._publishing.may_read(loop.time())
                     and self._lanes.may_start(first, loop.time()) else [])
            if dirty and first not in self._states:
                # Left by a worker that stopped: published by a lane of the period held again.
                whole.add(first)
                changed.pop(first, None)
            # Room for one, after the current rolling period is held again: held periods
            # with marks to count are taken, as are those behind.
            self._updating = touched
            built = {*whole, *(p for p in touched if p not in self._states)}
            taken = {p: behind or p in touched for p, behind in self._held_behind().items()}
            if first not in built:
                whole.update(self._catch_up.waiting(first, taken, built, self._held))
            redo = self._unbuilt - whole  # whole writes that failed: after the updates
            writes: list[Write] = []
            for period, lane in self._lanes.done():
                assert lane.task is not None
                codes = lane.task.result()  # a failed protection fails the round (and
                self._lanes.take(period, loop.time())  # its period, behind, is built again)
                if self._states.get(period) is lane.state:
                    lane.state.unstored |= codes  # until the round's write commits
                    if period == first and (lane.events or lane.marks):
                        self._publishing.lane = lane
                    elif period == first:
                        self._lanes.published(lane)  # nothing to write
            # (An index a lane derived, once the lane is taken in: one that changed no cell.)
            to_store = [held for period, held in self._states.items()
                        if held.unstored or (held.index_json != held.stored_index
                                             and not self._lanes.protecting(period, held))]
            if not (whole or changed or marks or asked or dirty or to_store or self._unbuilt
                    or self._publishing.lane or self._lanes.any_due(
                        self._states, loop.time(), self._publishing.period(first))):
                if self._lanes:  # nothing but a protection running: wait a little for it
                    await self._lanes.wait(0.05)
                    return True
                return False
            for period in sorted(whole, key=lambda p: (p != first, p)):
                writes.append(await self._build(session, parse_period(period), now))
                await self._store(writes, now)
            for period, buurten in sorted(changed.items(), key=lambda i: (i[0] != first, i)):
                writes.append(await self._update(session, parse_period(period), now, buurten))
                if period == first:  # what readers wait for: visible before the others
                    await self._store(writes, now)
            for period in sorted(redo & self._unbuilt):  # (rows compared with the stored
                held = self._states[period]  # ones would be with what the redo replaces)
                writes.append(await held.write(session, set(held.codes()), whole=True))
                await self._store(writes, now)
            self._counted.update({(code, month): at for code, month, at in fresh})
            # The public cells a finished protection changed: thousands of rows nationally,
            # after the marks' new counts (which readers wait for), not before them.
            # A part of them at a time (thousands at once held the next round back by a
            # second and more); the rest waits in `unstored` for the next rounds.
            for held in to_store if others else ():
                if self._states.get(str(held.period)) is held:  # not built anew meanwhile
                    part = set(sorted(held.unstored)[:ROWS_PER_ROUND])
                    writes.append(await held.write(session, part, whole=False))
        state = self._states.get(first)
        if (dirty and state is not None and self._publishing.lane is None
                and self._lanes.may_start(first, loop.time())):
            # Published when the lane that protects their facts is done (with a lane running
            # already, they wait: it protects older counts; so they do while the events of
            # a lane are still being written).
            self._lanes.start(first, state, loop.time(), dirty, now, publishes=True)
        for period, held in self._states.items():
            publishes = period == self._publishing.period(first)
            if self._lanes.due(period, held, loop.time(), publishes=publishes):
                self._lanes.start(period, held, loop.time(), [], now, publishes=publishes)
        if others:
            await self._write_last(writes, asked, marks, now)
            self._others_at = loop.time()
        publishing = self._publishing.lane
        # Only after every row it changed (an event never says more than readers read), or
        # once its state is replaced by one built and stored whole.
        if publishing is not None and (not publishing.state.unstored
                                       or self._states.get(first) is not publishing.state):
            await self._publishing.write_some(first, now)
        return True

    async def _write_last(self, writes: list[Write], asked: list[str], marks: list[Mark],
                          now: datetime) -> None:
        """Rows and the marks they cover in one short transaction: a round that fails
        before its end leaves the marks for the next one, which counts again."""
        last = list(writes)
        async with self._sessions() as session, session.begin():
            await self._leadership.exclusive(session)
            await self._write(session, writes, now)
            for period in asked:
                await store.clear_request(session, period)
            await store.clear_marks(session, marks)
        self._committed(last)

    def _forget(self, periods: list[str]) -> None:
        """No longer hold `periods` (their lanes dropped, their protection closed). Those
        whose public side was behind are stored so with the round's next write, at the
        latest in the transaction that clears the marks of the counts they had not
        protected."""
        for period in periods:
            if (state := self._states.get(period)) is not None:
                self._catch_up.let_go(period, self._behind(period, state))
            self._unbuilt.discard(period)
        self._lanes.drop(periods)
        for period in periods:
            if (state := self._states.pop(period, None)) is not None:
                self._protector.close(state)

    def _behind(self, period: str, state: PeriodState, writing: Collection[str] = (),
                whole: bool = False) -> bool:
        """Whether `state` has counts whose public cells or index are not stored yet
        (`writing`: the codes whose rows are being stored with it; `whole`: all of them)."""
        return bool(state.pending or state.unstored.difference(writing) or state.index_stale
                    or state.index_json != state.stored_index
                    or (period in self._unbuilt and not whole)
                    or self._lanes.protecting(period, state))

    def _held_behind(self, writes: Collection[Write] = ()) -> dict[str, bool]:
        """`_behind` of every held period, as it is once `writes` are stored."""
        writing: dict[str, set[str]] = defaultdict(set)
        for w in writes:
            writing[w.period] |= w.codes
        whole = {w.period for w in writes if w.whole}
        return {p: self._behind(p, state, writing.get(p, ()), p in whole)
                for p, state in self._states.items()}

    async def _store(self, writes: list[Write], now: datetime) -> None:
        """Store what `writes` holds, in a short transaction of its own, and empty it."""
        if not writes:
            return
        done = list(writes)
        async with self._sessions() as session, session.begin():
            await self._leadership.exclusive(session)
            await self._write(session, writes, now)
        self._committed(done)

    def _committed(self, writes: list[Write]) -> None:
        for w in writes:
            if (state := self._states.get(w.period)) is not None:
                state.unstored -= w.codes
                if w.index_json is not None:
                    state.committed_index = w.index_json
            if w.whole:
                self._unbuilt.discard(w.period)

    async def _write(self, session: AsyncSession, writes: list[Write], now: datetime) -> None:
        """Store `writes` and, after them, which periods' public side is behind: in the
        transaction that clears the marks of raw counts it has not protected yet."""
        for w in writes:
            if w.rows or w.whole or w.index_json is not None:
                await store.write(session, w.period, w.rows, whole=w.whole,
                                  index_json=w.index_json, computed_at=now,
                                  data_until=w.data_until, method_version=METHOD_VERSION)
        await self._catch_up.write(session, self._held_behind(writes))
        writes.clear()

    async def _update(self, session: AsyncSession, period: Period, now: datetime,
                      buurten: set[str]) -> Write:
        """Count `buurten` again where `period` is held (their raw values are stored at
        once, their public cells when a lane has protected them), else build it whole."""
        cutoffs = public_cutoffs(period, now, self._grace_days)
        state = self._states.get(str(period))
        if state is None or state.cutoffs != cutoffs:
            return await self._build(session, period, now)
        self._states.move_to_end(str(period))
        return await state.write(session, await state.update(session, buurten), whole=False)

    async def _build(self, session: AsyncSession, period: Period, now: datetime) -> Write:
        cutoffs = public_cutoffs(period, now, self._grace_days)
        self._forget([str(period)])  # and a protection of what is replaced now
        state = await PeriodState.build(session, period, cutoffs)
        self._freeze()
        self._states[str(period)] = state
        self._protector.open(state)
        if period == current_period(now):
            self._lanes.changed()  # every area's values may differ from those published
        while len(self._states) > self._held:
            self._let_go_of_one(str(period), now)
        # Behind until its rows are stored: a write that fails is done again, whole.
        self._unbuilt.add(str(period))
        return await state.write(session, set(state.codes()), whole=True)

    def _let_go_of_one(self, built: str, now: datetime) -> None:
        """Let go of the least recently used period, first of those that are not behind (one
        that is must be built again), have no marks to count (they would build it whole)
        and are not current (what readers read most)."""
        current = {str(current_period(now)), str(current_period(now, "month"))}
        order = [p for p in self._states if p != built]
        self._forget([min(order, key=lambda p: (self._behind(p, self._states[p]),
                                                p in self._updating, p in current,
                                                order.index(p)))])
