"""Fast path: SQLite for the async engine without a thread hop per statement.

Buys, on the single POST (signal-single), measured 2026-12-04 against aiosqlite with the
same pool and pragmas in alternating rounds (`python -m benchmarks.ab`, docs/benchmarks.md):
without it a request cost 20 % more server CPU relative to hello-world; with it the p99 was
214 instead of 325 ms. On the batch of 500: 21 % more server CPU per batch without it.

aiosqlite runs every statement on a worker thread and resumes the coroutine through the
event loop: with one write connection, a request then holds that connection across many
loop turns, and concurrent requests queue behind each other. SQLite statements take
microseconds, and a WAL commit with synchronous=FULL well under a millisecond, so this
adapter runs them inline on the loop instead: a transaction never yields mid-way, the single
connection is never contended, and nothing changes for the code above SQLAlchemy. The price
is that a statement waiting for a lock held by another process (busy_timeout) blocks the
loop; production runs PostgreSQL.

Leans on: the slice of aiosqlite's interface that SQLAlchemy's aiosqlite dialect uses
(passed in as `async_creator`). `shared/tests/test_sqlite_inline.py` fails when the dialect
needs more of it, or when a statement starts to yield to the loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

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
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
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

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __await__(self) -> Any:
        return self.__aenter__().__await__()


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # the dialect checks this

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _CursorContext:
        return _CursorContext(self._conn)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = InlineCursor(self._conn.cursor())
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()

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
                               detect_types=0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys=ON")
        # A checkpoint copies the WAL's pages into the database and fsyncs it, on the loop.
        # At SQLite's default (every 1,000 pages) that happens every few group commits of
        # intake; at 10,000 (a WAL of up to ~40 MB) a page written by many commits is copied
        # once (figures in docs/benchmarks.md).
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        return InlineConnection(conn)

    return connect
