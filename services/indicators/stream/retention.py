"""The pseudonym retention clock: a household pseudonym is kept only while a period needs it.

Distinct households can only be counted while the facts carry a pseudonym. A period is
*settled* once no signal observed in it can still arrive: its last month ended more than
`late_signal_grace` ago (signals refuses an `observedAt` more than two years back; the grace
adds the time an event may spend in the outbox and on the broker). Settling a period makes one
fact of each household carry that household's count in it, as a bit (the *representative*:
the household's fact with the lowest signal id in the period), also per category and for
stacking. Once every period that contains a fact's month is settled (the rolling 12 months
ending 11 months after it), the fact's pseudonym is set to NULL. From then on the computation
reads the bits, with the same results (`computation/repository.py`).

What the facts keep after that are counts by signal: an erasure still deletes the fact, and
with it the signal, its acute escalation and whatever household counts it carried. A
data-subject erasure removes every signal of the household at once, so its counts go exactly.
Erasing only some of a household's signals in a settled period (possible when two
organisations report the same address) may take away the household's count with its
representative while other signals of it remain: the household is then undercounted by one in
that period. A signal that arrives after its periods were settled counts as a signal there,
not as a household (it is beyond the grace, so it cannot be told apart from one already
counted).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from opentelemetry.trace import Tracer
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    SQLColumnExpression,
    and_,
    case,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.cellkey import KEY_SPACE
from services.indicators.computation.periods import month_index, month_label
from services.indicators.models import SettledPeriod, SignalFact
from services.indicators.settings import Settings
from services.indicators.snapshots import store as snapshot_store
from shared.db import try_exclusive, utcnow
from shared.periodic import PeriodicTask

log = logging.getLogger(__name__)

F = SignalFact
WINDOW_MONTHS = 12  # the longest period: rolling 12 months (stacking uses the same window)
MONTH_BIT = 1 << WINDOW_MONTHS  # bit 12: the fact's own calendar month


def rolling_bit(last_month: str) -> ColumnElement[int]:
    """Per fact, the bit standing for the rolling 12 months ending `last_month` (0 outside)."""
    last = month_index(last_month)
    return case(*((F.month == month_label(last - k), 1 << k) for k in range(WINDOW_MONTHS)),
                else_=0)


def carries(column: SQLColumnExpression[int], bit: ColumnElement[int] | int) -> ColumnElement[bool]:
    """The fact carries its household's count for the period of `bit`."""
    return column.op("&", return_type=Integer)(bit) != 0


def horizon(now: datetime, grace: timedelta) -> str:
    """The last month whose periods are closed at `now`: it ended `grace` ago or earlier."""
    cutoff = now - grace
    return month_label(cutoff.year * 12 + cutoff.month - 2)  # the month before the cutoff's


async def settled_through(session: AsyncSession) -> str | None:
    """Every period ending in or before this month is settled (None: none is)."""
    last: str | None = await session.scalar(select(func.max(SettledPeriod.last_month)))
    return last


async def settle_due(sessions: async_sessionmaker[AsyncSession], grace: timedelta,
                     now: datetime | None = None) -> list[str]:
    """Settle every period closed by `now`, oldest first; returns the last months settled.

    Settled in order, so "settled" is all periods up to one month (`settled_through`). Each
    step is a transaction of its own, so no write lock is held for long: the bits are set
    first (a reader ignores them until the month is recorded as settled, and setting a bit
    twice changes nothing), then the month is recorded and the pseudonyms it frees go.
    """
    async with sessions() as session:
        done = await settled_through(session)
        first = await session.scalar(select(func.min(F.month)).where(
            F.household_stats_pseudonym.is_not(None)))
    if first is None:
        return []
    start = month_index(first) if done is None else month_index(done) + 1
    end = month_index(horizon(now or utcnow(), grace))
    months = [month_label(i) for i in range(start, end + 1)]
    settled = []
    for month in months:
        if not await settle(sessions, month):
            break  # another replica is at it
        settled.append(month)
    if not months and done is not None:
        async with sessions() as session, session.begin():
            await forget_pseudonyms(session, done)  # a late fact in a month settled before
    return settled


async def settle(sessions: async_sessionmaker[AsyncSession], last_month: str) -> bool:
    """Make one fact per household carry its counts in `month:` and `rolling-12m:last_month`,
    record the month as settled and forget the pseudonyms no open period needs.

    False when another replica holds the clock or settled the month already: marking after
    its pseudonyms went would choose other representatives, and count households twice.
    """
    first = month_label(month_index(last_month) - WINDOW_MONTHS + 1)
    year = F.month.between(first, last_month)
    month = F.month == last_month
    bit = rolling_bit(last_month)
    household = (F.area_code, F.household_stats_pseudonym)
    steps: list[tuple[SQLColumnExpression[int], ColumnElement[int] | int, ColumnElement[bool],
                      tuple[SQLColumnExpression[str | None], ...], ColumnElement[bool] | None]] = [
        (F.household_windows, bit, year, household, None),
        (F.category_windows, bit, year, (*household, F.category), None),
        (F.stacked_windows, bit, year, household, func.count(F.category.distinct()) >= 2),
        (F.household_windows, MONTH_BIT, month, household, None),
        (F.category_windows, MONTH_BIT, month, (*household, F.category), None),
    ]
    for column, step_bit, window, group, having in steps:
        async with sessions() as session, session.begin():
            if not await _claim(session, last_month):
                return False
            await _mark(session, column, step_bit, window, group, having)
    async with sessions() as session, session.begin():
        if not await _claim(session, last_month):
            return False
        session.add(SettledPeriod(last_month=last_month, settled_at=utcnow()))
        await forget_pseudonyms(session, last_month)
        # The settled cells' keys changed: every stored period is computed again.
        await snapshot_store.mark(session, snapshot_store.ALL, snapshot_store.ALL)
    return True


async def _claim(session: AsyncSession, last_month: str) -> bool:
    """The clock for this transaction (one replica at a time), with `last_month` still due."""
    if not await try_exclusive(session, "indicators.retention"):
        return False
    done = await settled_through(session)
    return done is None or done < last_month


async def _mark(session: AsyncSession, column: SQLColumnExpression[int],
                bit: ColumnElement[int] | int, window: ColumnElement[bool],
                group: tuple[SQLColumnExpression[str | None], ...],
                having: ColumnElement[bool] | None = None) -> None:
    """Set `bit` on the representative (lowest signal id) of each group in the window."""
    representatives = (select(func.min(F.signal_id))
                       .where(window, F.household_stats_pseudonym.is_not(None))
                       .group_by(*group))
    if having is not None:
        representatives = representatives.having(having)
    await session.execute(
        update(F).where(F.signal_id.in_(representatives.scalar_subquery()))
        .values({column: column.op("|", return_type=Integer)(bit)})
        .execution_options(synchronize_session=False))


async def forget_pseudonyms(session: AsyncSession, settled_last_month: str) -> int:
    """NULL the pseudonym of every fact whose periods are all settled; returns how many.

    The record key (cell-key method) is derived from the pseudonym and would link a
    household's facts just as well, so it is replaced by a random one: the settled cells'
    keys change once (one more noise draw of a final figure), then stay.
    """
    last_needed = month_label(month_index(settled_last_month) - WINDOW_MONTHS + 1)
    result = await session.execute(
        update(F).where(and_(F.month <= last_needed, F.household_stats_pseudonym.is_not(None)))
        .values(household_stats_pseudonym=None, record_key=random_key(session))
        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def random_key(session: AsyncSession) -> ColumnElement[int]:
    """A fresh random record key per row, in [0, KEY_SPACE), computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return func.abs(func.random()) % KEY_SPACE  # random(): a signed 64-bit integer
    return func.floor(func.random() * KEY_SPACE).cast(BigInteger)


class RetentionClock(PeriodicTask):
    """Settles due periods every `interval_s` (a month at a time, so hourly is plenty)."""

    name = "pseudonym-retention"
    span_name = "settle periods"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], grace: timedelta,
                 interval_s: float, tracer: Tracer | None = None) -> None:
        super().__init__(interval_s=interval_s, tracer=tracer)
        self._sessions = sessions
        self._grace = grace

    async def tick(self) -> None:
        months = await settle_due(self._sessions, self._grace)
        if months:
            log.info("periods settled", extra={"through": months[-1]})

    async def failed(self, exc: Exception) -> None:
        # Nothing is half-written (each step is a transaction): the next tick takes it up.
        if isinstance(exc, IntegrityError):
            return  # another replica settled the month first
        log.warning("settling periods failed", extra={"error": repr(exc)})


def retention_clock(settings: Settings, sessions: async_sessionmaker[AsyncSession],
                    tracer: Tracer | None = None) -> RetentionClock | None:
    """The clock of `settings`, started (None: switched off)."""
    if settings.pseudonym_retention_interval_s <= 0:
        return None
    clock = RetentionClock(sessions, timedelta(days=settings.late_signal_grace_days),
                           settings.pseudonym_retention_interval_s, tracer=tracer)
    clock.start()
    return clock
