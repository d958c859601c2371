"""Fast path: SQLite for the async engine without a thread hop per statement.

Buys, on the single POST (signal-single), measured 2026-12-04 against aiosqlite with the
same pool and pragmas in alternating rounds (`python -m benchmarks.ab`, docs/benchmarks.md):
without it a request cost 20 % more server CPU relative to hello-world; with it the p99 was
214 instead of 325 ms. On the batch of 500: 21 % more server CPU per batch without it.

aiosqlite runs every statement on a worker thread and resumes the coroutine through the
event loop: with one write connection, a request then holds that connection across many
loop turns, and concurrent requests queue behind each other. SQLite statements take
microseconds, so this adapter runs them inline on the loop instead: a transaction never
yields mid-way once it holds its lock, the single connection is never contended, and nothing
changes for the code above SQLAlchemy. The commit is the exception: it waits for the disk
(synchronous=FULL), which took over 100 ms on a busy machine (the national bench), so it
runs on a thread while the loop goes on. That thread costs the single POST 9 % of server
CPU (docs/benchmarks.md, "The consumer's transactions"), half of what this adapter buys.

Waiting for a lock that another process holds (the snapshot worker's write, a CLI command)
is the other exception. SQLite's own busy handler would sleep inside the statement, and so
hold the whole event loop (a national bench saw /livez answer after 5 s). Here SQLite's
busy timeout is 0, and a statement refused with SQLITE_BUSY is tried again after an
asynchronous sleep, up to the same budget: what the busy handler does, without the loop
standing still. A refused statement has had no effect (SQLite's guarantee, on which its own
handler rests), so trying it again is safe.

Leans on: the slice of aiosqlite's interface that SQLAlchemy's aiosqlite dialect uses
(passed in as `async_creator`). `shared/tests/test_sqlite_inline.py` fails when the dialect
needs more of it, or when a statement starts to yield to the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Between tries for a lock another process holds: short at first, as SQLite's own handler.
RETRY_DELAYS_S = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020)


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Refused for a lock that may come free; not a snapshot that can no longer be written on
    (SQLITE_BUSY_SNAPSHOT, for which SQLite's handler is not called either)."""
    code = getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY)
    return code & 0xFF == sqlite3.SQLITE_BUSY and code != sqlite3.SQLITE_BUSY_SNAPSHOT


async def patiently(budget_s: float, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, tried again on the loop while another process holds the lock."""
    deadline: float | None = None
    tries = 0
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + budget_s
            if now >= deadline:
                raise
        await asyncio.sleep(RETRY_DELAYS_S[min(tries, len(RETRY_DELAYS_S) - 1)])
        tries += 1


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor, budget_s: float) -> None:
        self._cursor = cursor
        self._budget_s = budget_s

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            await patiently(self._budget_s, self._cursor.execute, sql)
        else:
            await patiently(self._budget_s, self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        # Not tried again: an executemany refused half-way would repeat its first rows. The
        # engine runs it only inside a transaction, which holds its lock from BEGIN on.
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _CursorContext:
    """What `connection.cursor()` returns in aiosqlite: usable with `async with` or await."""

    def __init__(self, conn: sqlite3.Connection, budget_s: float) -> None:
        self._conn = conn
        self._budget_s = budget_s

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self._budget_s)

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __await__(self) -> Any:
        return self.__aenter__().__await__()


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection, budget_s: float) -> None:
        self._conn = conn
        self._budget_s = budget_s
        self._connection: sqlite3.Connection | None = conn  # the dialect checks this

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _CursorContext:
        return _CursorContext(self._conn, self._budget_s)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = InlineCursor(self._conn.cursor(), self._budget_s)
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        # Off the loop: with synchronous=FULL a commit waits for the disk (fsync), over 100 ms
        # on a busy machine, and the loop stood still with it. The connection stays this
        # transaction's until its commit is over, also when the waiting task is cancelled.
        done = asyncio.get_running_loop().run_in_executor(None, self._conn.commit)
        try:
            await asyncio.shield(done)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            await patiently(self._budget_s, self._conn.commit)  # a lock: as any statement
        except asyncio.CancelledError:
            await asyncio.wait([done])
            raise

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None


WAL_AUTOCHECKPOINT_PAGES = 10_000


def creator(path: str, busy_timeout_ms: int = 5000) -> Any:
    """An `async_creator` for create_async_engine: autocommit mode, we issue BEGIN ourselves."""

    async def connect() -> InlineConnection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               detect_types=0, timeout=busy_timeout_ms / 1000)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # A checkpoint copies the WAL's pages into the database and fsyncs it, on the loop.
        # At SQLite's default (every 1,000 pages) that happens every few group commits of
        # intake; at 10,000 (a WAL of up to ~40 MB) a page written by many commits is copied
        # once (figures in docs/benchmarks.md).
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        # The set-up above may wait in SQLite (connect's timeout); every later wait for a
        # lock is `patiently`'s, on the loop.
        conn.execute("PRAGMA busy_timeout=0")
        return InlineConnection(conn, busy_timeout_ms / 1000)

    return connect
