"""Lanes: the protections of held periods, run off the worker's rounds (`worker.py`).

Protecting a period's public side again is seconds of CPU nationally; it runs in the
protection child (`protector.py`) while rounds go on counting. One lane per period at a
time, each starting `protect_interval_s` after the period's last one ended (the CPU they
take stays bounded, and batching more changes into one costs little more than one), the
index derived with it at most every `index_interval_s`.

The lanes of the period that publishes (the current rolling one) also make the events of
its dirty marks, with the index derived again first: an event must not carry a composite
score, rank and decile of older counts. A lane's new cells and index change areas no dirty
mark affects, too (every composite rank moves with each buurt's score; a protection changes
cells across a gemeente): every `republish_interval_s` a lane makes the events of every
area that changed since it was last published (nationally 17,543 events and 52 MB from the
child when all did; after a start, few did).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from opentelemetry.trace import Tracer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.publication.repository import last_digests
from services.indicators.publication.service import AreaEvent
from services.indicators.snapshots.protector import InThread
from services.indicators.snapshots.state import Pending, PeriodState
from shared.tracing import worker_span

# Areas whose new public cells are taken in per turn of the event loop: thousands at once
# held the rounds (and a new signal's count) back by up to 0.2 s.
TAKEN_PER_TURN = 500


@dataclass
class Lane:
    """The public side of one held period being protected (and its index derived) off the
    event loop, while rounds go on counting: `task` gives the codes whose public cells
    changed. `marks`: the dirty marks whose facts it protects; their events (of every
    area, with `whole`: those that changed up to change `covers`) are made with it
    (`events`) and written by the round that takes it in."""

    state: PeriodState
    marks: list[tuple[str, datetime]]
    whole: bool = False
    covers: int = 0
    task: asyncio.Future[set[str]] | None = None
    events: list[AreaEvent] = field(default_factory=list)


class Lanes:
    """The lanes running, and when each held period may start its next."""

    def __init__(self, protector: InThread, reads: async_sessionmaker[AsyncSession], *,
                 source: str, protect_interval_s: float, index_interval_s: float,
                 republish_interval_s: float, freeze: Callable[[], None],
                 tracer: Tracer | None) -> None:
        self._protector = protector
        self._reads = reads
        self._source = source
        self._protect_interval_s = protect_interval_s
        self._index_interval_s = index_interval_s
        self._freeze = freeze
        self._tracer = tracer
        self._running: dict[str, Lane] = {}
        self._protected_at: dict[str, float] = {}
        self._indexed_at: dict[str, float] = {}
        self._republish_interval_s = republish_interval_s
        # Changes of the publishing period that may have moved areas no event covers (a
        # count, a new build), and up to which change every area's events are written.
        self._changes, self._covered = 1, 0
        self._republished_at: float | None = None  # at the first lane that publishes

    def __bool__(self) -> bool:
        return bool(self._running)

    def protecting(self, period: str, state: PeriodState) -> bool:
        """Whether a lane protects `state` (done or not, not taken in yet)."""
        lane = self._running.get(period)
        return lane is not None and lane.state is state

    def done(self) -> list[tuple[str, Lane]]:
        return [(p, lane) for p, lane in self._running.items()
                if lane.task is not None and lane.task.done()]

    def take(self, period: str, at: float) -> None:
        """The lane of `period` is taken in: its next may start `protect_interval_s` on."""
        del self._running[period]
        self._protected_at[period] = at

    def may_start(self, period: str, at: float) -> bool:
        return period not in self._running and (
            at - self._protected_at.get(period, -self._protect_interval_s)
            >= self._protect_interval_s)

    def due(self, period: str, held: PeriodState, at: float, *, publishes: bool) -> bool:
        """Whether a held period has a protection, an index or its every area's events
        (`publishes`: it is the period that publishes) to start now."""
        return self.may_start(period, at) and (
            bool(held.pending) or (held.index_stale and self._index_due(period, at))
            or (publishes and self._republishes(at)))

    def any_due(self, held: Mapping[str, PeriodState], at: float, publishing: str) -> bool:
        return any(self.due(period, state, at, publishes=period == publishing)
                   for period, state in held.items())

    def start(self, period: str, state: PeriodState, at: float,
              marks: list[tuple[str, datetime]], now: datetime, *, publishes: bool) -> None:
        """Protect `state`'s pending changes off the loop, derive the index when it is due
        (or before events of newer counts), and make the events of `marks` (`publishes`:
        of every area, when that is due)."""
        whole = publishes and self._republishes(at)
        reindex = self._index_due(period, at) or (
            (whole or bool(marks)) and (bool(state.pending) or state.index_stale))
        if reindex:
            self._indexed_at[period] = at
        if whole:
            self._republished_at = at
        elif publishes:
            self._changes += 1
        lane = self._running[period] = Lane(state, marks, whole, self._changes)
        lane.task = asyncio.ensure_future(
            self._protect(lane, state.protect_pending(), reindex, now))

    def drop(self, periods: Iterable[str]) -> None:
        """Forget the lanes of `periods` (what they protect is dropped or built anew); a
        failure of theirs is taken, not reported again as never retrieved."""
        for period in periods:
            lane = self._running.pop(period, None)
            if lane is not None and lane.task is not None:
                lane.task.add_done_callback(
                    lambda task: task.cancelled() or task.exception())

    def drop_all(self) -> None:
        self.drop(list(self._running))

    async def wait(self, timeout_s: float) -> None:
        """Until a lane is done, at most `timeout_s`."""
        await asyncio.wait([lane.task for lane in self._running.values()
                            if lane.task is not None], timeout=timeout_s)

    async def _protect(self, lane: Lane, pending: Pending | None, reindex: bool,
                       now: datetime) -> set[str]:
        state = lane.state
        if pending is not None:
            with worker_span(self._tracer, "protect indicators"):
                await self._protector.protect(state, pending)
        codes = state.protected()
        for start in range(0, len(codes), TAKEN_PER_TURN):
            state.take_protected(codes[start:start + TAKEN_PER_TURN])
            await asyncio.sleep(0)
        self._freeze()
        if reindex:
            # Derived from the results as they are now (rounds go on meanwhile).
            await self._protector.reindex(state)
        if lane.whole:  # only the areas that changed come back
            published: dict[str, str] | None = None
            with contextlib.suppress(DBAPIError):  # then all: `write_events` filters them
                async with self._reads() as session:
                    published = await last_digests(session, state.codes())
            lane.events = await self._protector.events(state, state.buurten(), now,
                                                       self._source, published)
        elif lane.marks:
            lane.events = await self._protector.events(
                state, [code for code, _ in lane.marks], now, self._source)
        return set(codes)

    def changed(self, *, anew: bool = False) -> None:
        """The publishing period changed outside a lane (built whole; `anew`: held by a
        worker that starts over, which publishes every area at its first lane)."""
        self._changes += 1
        if anew:
            self._republished_at = None

    def published(self, lane: Lane) -> None:
        """Every event of `lane` is written."""
        if lane.whole:
            self._covered = max(self._covered, lane.covers)

    def _republishes(self, at: float) -> bool:
        """Whether every area's events are due: owed (a lane that made them and was lost
        owes them still), and the interval since the last such lane has passed."""
        return self._changes > self._covered and (
            self._republished_at is None
            or at - self._republished_at >= self._republish_interval_s)

    def _index_due(self, period: str, at: float) -> bool:
        return at - self._indexed_at.get(period, -self._index_interval_s) \
            >= self._index_interval_s
