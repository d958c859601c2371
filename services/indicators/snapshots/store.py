"""The stored snapshots: what the worker writes and what readers load (`models.py` explains the
sequence numbers and generations)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.indicators.models import (
    IndicatorSnapshot,
    SnapshotArea,
    SnapshotMark,
    SnapshotRequest,
)
from shared.db import upsert_statement, utcnow

if TYPE_CHECKING:
    from services.indicators.snapshots.state import AreaRow

ALL = "*"  # the code and month of a mark for a change of the register


@dataclass
class Write:
    """A period's rows to store (with `whole`, all of them) and its index when it changed."""

    period: str
    rows: list[AreaRow]
    whole: bool
    index_json: bytes | None
    data_until: datetime | None
    codes: set[str] = field(default_factory=set)  # whose rows these are, changed or not


async def mark(session: AsyncSession, code: str, month: str) -> None:
    """A buurt's facts of `month` changed (or, with `ALL`, the register did)."""
    await session.execute(_marking(session), {"code": code, "month": month,
                                              "marked_at": utcnow()})


def mark_many(session: Session, marks: Sequence[tuple[str, str]], at: datetime) -> None:
    """`mark` for many (buurt, month) at once, from a synchronous session (a commit's hook)."""
    session.execute(_marking(session), [{"code": code, "month": month, "marked_at": at}
                                        for code, month in marks])


def _marking(session: AsyncSession | Session) -> Any:
    return upsert_statement(session, SnapshotMark, on=("code", "month"), update=("marked_at",))


async def marks(session: AsyncSession) -> list[tuple[str, str, datetime]]:
    rows = await session.execute(select(SnapshotMark.code, SnapshotMark.month,
                                        SnapshotMark.marked_at))
    return [(code, month, at) for code, month, at in rows]


async def clear_marks(session: AsyncSession, done: Sequence[tuple[str, str, datetime]]) -> None:
    """One statement for every mark: at national intake a round clears a thousand and more,
    in the transaction that holds SQLite's one write lock (a statement each took seconds)."""
    if not done:
        return
    table = cast(Table, SnapshotMark.__table__)
    # A mark made again after it was read stays for the next round.
    await session.execute(
        table.delete().where(table.c.code == bindparam("mark_code"),
                             table.c.month == bindparam("mark_month"),
                             table.c.marked_at <= bindparam("mark_at")),
        [{"mark_code": code, "mark_month": month, "mark_at": at} for code, month, at in done])


async def request(session: AsyncSession, period: str) -> None:
    await session.execute(upsert_statement(session, SnapshotRequest),
                          {"period": period, "requested_at": utcnow()})


async def requests(session: AsyncSession) -> list[str]:
    return list((await session.scalars(
        select(SnapshotRequest.period).order_by(SnapshotRequest.requested_at))).all())


async def clear_request(session: AsyncSession, period: str) -> None:
    await session.execute(delete(SnapshotRequest).where(SnapshotRequest.period == period))


async def stored_periods(session: AsyncSession) -> dict[str, bool]:
    """Every stored period, and whether its public side waits for a protection."""
    rows = await session.execute(select(IndicatorSnapshot.period,
                                        IndicatorSnapshot.public_behind))
    return {period: behind for period, behind in rows}


async def set_public_behind(session: AsyncSession, period: str, behind: bool) -> None:
    """Record whether `period`'s stored public side waits for a protection of its stored
    raw counts (readers do not look at it: no new sequence number)."""
    await session.execute(update(IndicatorSnapshot).where(IndicatorSnapshot.period == period)
                          .values(public_behind=behind))


async def head(session: AsyncSession, period: str) -> IndicatorSnapshot | None:
    return await session.get(IndicatorSnapshot, period)


async def heads(session: AsyncSession) -> list[Row[str, int, int, int]]:
    """(period, seq, generation, index_seq) of every stored period: what readers poll."""
    return list((await session.execute(select(
        IndicatorSnapshot.period, IndicatorSnapshot.seq, IndicatorSnapshot.generation,
        IndicatorSnapshot.index_seq))).all())


async def write(session: AsyncSession, period: str, rows: Sequence[AreaRow], *,
                whole: bool, index_json: bytes | None, computed_at: datetime,
                data_until: datetime | None, method_version: str) -> int:
    """Store `rows` (with `whole`, as the period's only rows: a new generation) and, when
    given, the index; returns the new sequence number."""
    snapshot = await session.get(IndicatorSnapshot, period, with_for_update=True)
    if snapshot is None:
        snapshot = IndicatorSnapshot(period=period, seq=0, generation=0, index_seq=0,
                                     vulnerability_index=b"{}".decode())
        session.add(snapshot)
    seq = snapshot.seq + 1
    snapshot.seq, snapshot.computed_at = seq, computed_at
    snapshot.data_until, snapshot.method_version = data_until, method_version
    if whole:
        snapshot.generation += 1
        await session.execute(delete(SnapshotArea).where(SnapshotArea.period == period))
    if index_json is not None:
        snapshot.vulnerability_index, snapshot.index_seq = index_json.decode(), seq
    await session.flush()
    values = [(period, r.code, r.level, seq, r.public.decode(), r.raw.decode(), r.digest)
              for r in rows]
    if session.get_bind().dialect.name == "sqlite":
        await _upsert_in_one_statement(session, values)
        return seq
    statement = upsert_statement(session, SnapshotArea, on=_AREA_KEY,
                                 update=_AREA_COLUMNS[len(_AREA_KEY):])
    for start in range(0, len(values), 2000):
        await session.execute(statement, [dict(zip(_AREA_COLUMNS, v, strict=True))
                                          for v in values[start:start + 2000]])
    return seq


_AREA_KEY = ("period", "code")
_AREA_COLUMNS = (*_AREA_KEY, "level", "seq", "public", "raw", "digest")
# Rows per statement: 7,000 parameters, well within SQLite's 32,766.
_ROWS_PER_STATEMENT = 1000


async def _upsert_in_one_statement(session: AsyncSession, values: list[tuple[Any, ...]]
                                   ) -> None:
    """The rows as one multi-row INSERT per `_ROWS_PER_STATEMENT`, on SQLite.

    An executemany steps SQLite once per row, and each step lets go of the GIL. Where a
    thread computes in the worker's process meanwhile (a protection inline, pickling for
    the protection child), the round's thread waits each time for it to hand the GIL back:
    500 rows took 67-69 ms beside a computing thread (3.5 ms alone), all of it holding
    SQLite's one write lock, which the service's consumer waits for. One statement is one
    step: 2.4 ms beside the computing thread (docs/benchmarks.md).
    """
    if not values:
        return
    connection = await session.connection()
    row = "(" + ",".join("?" * len(_AREA_COLUMNS)) + ")"
    update = ", ".join(f"{c} = excluded.{c}" for c in _AREA_COLUMNS[len(_AREA_KEY):])
    for start in range(0, len(values), _ROWS_PER_STATEMENT):
        part = values[start:start + _ROWS_PER_STATEMENT]
        await connection.exec_driver_sql(
            f"INSERT INTO {SnapshotArea.__tablename__} ({', '.join(_AREA_COLUMNS)}) "  # noqa: S608
            f"VALUES {','.join([row] * len(part))} "
            f"ON CONFLICT ({', '.join(_AREA_KEY)}) DO UPDATE SET {update}",
            tuple(v for r in part for v in r))


async def digests(session: AsyncSession, period: str, codes: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(select(SnapshotArea.code, SnapshotArea.digest)
                                 .where(SnapshotArea.period == period,
                                        SnapshotArea.code.in_(codes)))
    return {code: digest for code, digest in rows}


async def rows_since(session: AsyncSession, period: str, seq: int, after: str = "",
                     limit: int = 2000) -> list[Row[str, str, int, str, str]]:
    """A page of the area rows written after `seq` (by code, after `after`)."""
    return list((await session.execute(
        select(SnapshotArea.code, SnapshotArea.level, SnapshotArea.seq, SnapshotArea.public,
               SnapshotArea.raw)
        .where(SnapshotArea.period == period, SnapshotArea.seq > seq, SnapshotArea.code > after)
        .order_by(SnapshotArea.code).limit(limit))).all())


async def newest_seq(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(IndicatorSnapshot.seq), 0)))
               or 0)


async def stored_versions(session: AsyncSession, periods: Sequence[str]
                          ) -> dict[str, tuple[str, datetime | None]]:
    """(method version, data until) of those of `periods` that are stored."""
    rows = await session.execute(
        select(IndicatorSnapshot.period, IndicatorSnapshot.method_version,
               IndicatorSnapshot.data_until).where(IndicatorSnapshot.period.in_(periods)))
    return {period: (method_version, data_until) for period, method_version, data_until in rows}


async def area_rows(session: AsyncSession, code: str, periods: Sequence[str]
                    ) -> dict[str, tuple[str, str, str]]:
    """(level, public, raw) of one area in each of `periods` that holds it."""
    rows = await session.execute(
        select(SnapshotArea.period, SnapshotArea.level, SnapshotArea.public, SnapshotArea.raw)
        .where(SnapshotArea.code == code, SnapshotArea.period.in_(periods)))
    return {period: (level, public, raw) for period, level, public, raw in rows}
