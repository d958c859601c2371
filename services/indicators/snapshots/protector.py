"""Where a held period's public side is protected again and its index derived: seconds of CPU
nationally, off the event loop whose rounds count new marks meanwhile.

`InThread` runs them in a thread of the worker's process (inline, tests). `InProcess` runs them
in a child process of their own at a lower priority (the worker's process): in a thread they
shared the interpreter with the rounds, and each time a round waited on the database it waited
again for the thread to hand the GIL back (rounds took 130-410 ms instead of 11-60 ms while a
protection ran). The child keeps its own copy of each held period's public counts, opened
with the counts of its build and moved on by the counts that changed since (`Pending.moved`),
and the last index; it sends back only the areas whose cells changed, the index, and the
events a lane publishes (made from the same cells and index as the worker's).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from services.indicators.composite import METHOD_VERSION, AreaScore, RankStability
from services.indicators.computation.engine import (
    AreaResult,
    Computation,
    OpenStatistics,
    SignalCounts,
)
from services.indicators.computation.periods import Period
from services.indicators.publication.service import AreaEvent, prepare_events
from services.indicators.snapshots.components import Components, Protection, PublicCounts
from services.indicators.snapshots.state import Pending, PeriodState, Register, derive_index
from shared.areacodes import AreaLevel, area_level
from shared.childprocess import die_with

log = logging.getLogger(__name__)
T = TypeVar("T")
# The child's priority below the rounds, the API and the consumer: on a busy machine it
# takes the CPU they leave, and only the public cells' freshness waits for it.
NICENESS = 10

Index = tuple[tuple[RankStability, ...], bytes, dict[str, AreaScore]]


class InThread:
    """One protection or index at a time, in a thread of this process."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="snapshot-protection")

    def open(self, state: PeriodState) -> None:
        """`state` was built: the counts and cells of its build are where protections start."""

    def close(self, state: PeriodState) -> None:
        """`state` is no longer held."""

    async def protect(self, state: PeriodState, pending: Pending) -> None:
        """Protect `pending`: `state`'s protection holds the new cells afterwards."""
        assert state.public.protection is not None
        await self._run(state.public.protection.update, pending.counts, pending.changes)

    async def reindex(self, state: PeriodState) -> None:
        """Derive `state`'s index from its public side as it is now."""
        await self._run(state.reindex, dict(state.public.results))

    async def events(self, state: PeriodState, dirty: list[str], now: datetime, source: str,
                     published: Mapping[str, str] | None = None) -> list[AreaEvent]:
        """The events of the areas `dirty` buurten affect, from `state`'s public side and
        index as they are now (but those `published` as they are)."""
        return await self._run(prepare_events, state.computation(), dirty,
                               state.register.members, now, source, published)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class InProcess(InThread):
    """Protections and indexes in a child process of their own (started when first needed,
    again after it died), one at a time and in the order asked.

    A child that cannot be started, or that died `LIVES` times, leaves the work to a thread
    for good (logged): the rounds must go on. Periods built from then on are protected in
    the thread; those opened in a child fail their next call (their protection's own state
    stayed in the child), and their round builds them again.
    """

    LIVES = 3

    def __init__(self) -> None:
        super().__init__()
        self._child: ProcessPoolExecutor | None = None
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._keys: dict[int, int] = {}  # id(state) -> the child's key of it
        self._next = itertools.count(1)
        self._deaths = 0
        self.in_thread = False
        self._threaded: set[int] = set()  # id(state) of periods built since: in the thread

    def open(self, state: PeriodState) -> None:
        if not self.in_thread:
            key = next(self._next)
            register = state.register
            try:
                opened = self._submit(_open, key, dict(state.public.rolled),
                                      register.statistics, register.members,
                                      register.registered, state.components.codes,
                                      state.cutoffs.current)
            except BrokenProcessPool:
                pass  # no key: its next call fails, and its round builds it again
            else:
                opened.add_done_callback(_report_failure)
                self._keys[id(state)] = key
                return
        if self.in_thread:
            self._threaded.add(id(state))

    def close(self, state: PeriodState) -> None:
        self._threaded.discard(id(state))
        if (key := self._keys.pop(id(state), None)) is not None:  # else the child died
            with contextlib.suppress(BrokenProcessPool):  # it died: nothing to close
                self._submit(_close, key)

    async def protect(self, state: PeriodState, pending: Pending) -> None:
        if id(state) in self._threaded:
            return await super().protect(state, pending)
        assert state.public.protection is not None
        cells = await self._call(_protect, self._key(state), pending.moved, pending.changes)
        state.public.protection.cells.update(cells)

    async def reindex(self, state: PeriodState) -> None:
        if id(state) in self._threaded:
            return await super().reindex(state)
        state.take_index(*await self._call(_reindex, self._key(state)))

    async def events(self, state: PeriodState, dirty: list[str], now: datetime, source: str,
                     published: Mapping[str, str] | None = None) -> list[AreaEvent]:
        if id(state) in self._threaded:
            return await super().events(state, dirty, now, source, published)
        return await self._call(_events, self._key(state), state.period, dirty, now, source,
                                published)

    def _key(self, state: PeriodState) -> int:
        key = self._keys.get(id(state))
        if key is None:  # opened in a child that died since: its round builds it again
            raise BrokenProcessPool("the protection child died since the period was opened")
        return key

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        future = self._submit(fn, *args)
        child = self._child
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            # The child died: the round that takes this in fails, and the periods it held
            # are built again (those behind one a round, the others at their next mark), opened
            # in a new child (which a late failure of the old one leaves be).
            if self._child is child and child is not None:
                self._died()
            raise

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._child is not None:
            try:
                return self._child.submit(fn, *args)
            except BrokenProcessPool:
                self._died()  # the next call starts a new one
                raise
        if self.in_thread:
            raise BrokenProcessPool("protections run in a thread now")
        before = set(multiprocessing.active_children())
        try:
            self._child = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                initargs=(os.getpid(),))
            future = self._child.submit(fn, *args)  # the child starts here
        except Exception as exc:  # e.g. no semaphores or processes to be had here
            log.warning("the protection child cannot start; protecting in a thread",
                        extra={"error": repr(exc)})
            self.in_thread = True
            self._stop_child()
            raise BrokenProcessPool("the protection child cannot start") from exc
        self._processes = [p for p in multiprocessing.active_children() if p not in before]
        return future

    def _stop_child(self) -> None:
        """End the child at once (a protection may have seconds to go) and forget what it
        held."""
        child, self._child = self._child, None
        self._keys.clear()
        if child is not None:
            child.shutdown(wait=False, cancel_futures=True)
            for process in self._processes:
                process.kill()
                process.join(5)  # dead within milliseconds
            self._processes = []

    def _died(self) -> None:
        self._deaths += 1
        if self._deaths >= self.LIVES and not self.in_thread:
            log.warning("the protection child died %d times; protecting in a thread",
                        self._deaths)
            self.in_thread = True
        self._stop_child()

    def shutdown(self) -> None:
        super().shutdown()
        self._stop_child()


def protector(in_process: bool) -> InThread:
    return InProcess() if in_process else InThread()


def _report_failure(future: Future[Any]) -> None:
    """A call whose outcome nobody waits for (opening a period) failed: said here, since
    what the period's next call gets then (an unknown key) does not say why."""
    if not future.cancelled() and (exc := future.exception()) is not None \
            and not isinstance(exc, BrokenProcessPool):
        log.error("the protection child could not open a period", extra={"error": repr(exc)})


# The child's side: each held period's public counts and protection, by key.

@dataclass
class _Held:
    counts: dict[str, SignalCounts]
    protection: Protection
    register: Register
    data_until: datetime | None
    # The last index: what readers read, and what events carry.
    stability: tuple[RankStability, ...] = ()
    scores: dict[str, AreaScore] = field(default_factory=dict)

    def results(self, codes: Iterable[str]) -> dict[str, AreaResult]:
        """The public results of `codes`, with their last index scores."""
        results = self.register.results({c: self.counts[c] for c in codes},
                                        self.protection.cells)
        for code, result in results.items():
            result.composite = self.scores.get(code)
        return results


_HELD: dict[int, _Held] = {}


def _start(parent: int) -> None:
    die_with(parent, signal.SIGKILL)
    os.nice(NICENESS)


def _open(key: int, counts: dict[str, SignalCounts], statistics: Mapping[str, OpenStatistics],
          members: Mapping[str, list[str]], registered: list[str], codes: list[str],
          data_until: datetime | None) -> None:
    _HELD[key] = _Held(counts, Protection(counts, Components(codes, members)),
                       Register(statistics, members, registered), data_until)
    _reindex(key)  # the index of the build, as the worker holds it


def _close(key: int) -> None:
    _HELD.pop(key, None)


def _protect(key: int, moved: dict[str, SignalCounts], changes: dict[str, set[str]]
             ) -> PublicCounts:
    """The cells of the areas whose cells changed (the national relation may change areas
    far from the changes)."""
    held = _HELD[key]
    held.counts.update(moved)
    before = dict(held.protection.cells)
    held.protection.update(held.counts, changes)
    return {code: cells for code, cells in held.protection.cells.items()
            if before.get(code) is not cells}


def _reindex(key: int) -> Index:
    held = _HELD[key]
    results = held.results(c for c in held.counts if area_level(c) is AreaLevel.BUURT)
    stability, index_json = derive_index(results, held.register.statistics)
    held.stability = stability
    held.scores = {code: r.composite for code, r in results.items()
                   if r.composite is not None}
    return stability, index_json, held.scores


def _events(key: int, period: Period, dirty: list[str], now: datetime, source: str,
            published: Mapping[str, str] | None) -> list[AreaEvent]:
    held = _HELD[key]
    computation = Computation(period, METHOD_VERSION, held.results(held.counts),
                              data_until=held.data_until, rank_stability=held.stability)
    return prepare_events(computation, dirty, held.register.members, now, source, published)
