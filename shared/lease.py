"""A role that one process per database plays at a time (the outbox relay, the snapshot
worker), while the others stand by.

On PostgreSQL a session advisory lock, held on a dedicated connection: when the holder's
process ends, its connection and the lock go with it, and a standby takes over at its next
try. Where the holder's host dies or is cut off, the server finds its connection dead by
TCP keepalives (set here to about 25 s, not the system's two hours). SQLite is written by
one process anyway: the lease is always held.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

# How long a check of the lease may take before the holder counts it as lost.
CHECK_TIMEOUT_S = 10.0
# The server's side of the lease connection: keepalives after 10 s idle, every 5 s, three
# missed (and unacknowledged data for 25 s) end it, and the lock with it.
_KEEPALIVES = text(
    "SELECT set_config('tcp_keepalives_idle', '10', false),"
    " set_config('tcp_keepalives_interval', '5', false),"
    " set_config('tcp_keepalives_count', '3', false),"
    " set_config('tcp_user_timeout', '25000', false)")
# The lease's backend: its pid and start (a pid alone can come again after a restart).
_TAKE = text(
    "SELECT pg_try_advisory_lock(hashtext(:name)), pid, backend_start FROM pg_stat_activity"
    " WHERE pid = pg_backend_pid()")
# In a transaction that writes for the holder: whether the lease's backend still holds the
# lock (a bigint key: its low 32 bits in objid), and a bound on how long the transaction may
# sit idle (a holder whose host dies mid-write lets go of its locks within 30 s, not when
# the system's keepalives find it, hours later).
_CONFIRM = text(
    "SELECT set_config('idle_in_transaction_session_timeout', '30s', true), EXISTS ("
    " SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.objid::bigint = (hashtext(:name)::bigint & 4294967295)"
    " AND l.pid = :pid AND a.backend_start = :started)")


class Lease:
    def __init__(self, engine: AsyncEngine, name: str, *, check_s: float = 0.0) -> None:
        self.name = name
        self._engine = engine
        self._check_s = check_s  # how long a check of the held lease holds good
        self._held: AsyncConnection | None = None
        self._backend: tuple[int, datetime] | None = None  # the holding connection's
        self._checked_at = 0.0

    @property
    def held(self) -> bool:
        """As the last `hold()` found it."""
        return self._held is not None or self._engine.dialect.name != "postgresql"

    async def hold(self) -> bool:
        """True while this process holds the lease: checks the held connection (one round
        trip, at most once every `check_s`), or tries to take the lease. Never waits for
        another holder."""
        if self._engine.dialect.name != "postgresql":
            return True
        now = asyncio.get_running_loop().time()
        if self._held is not None and now - self._checked_at < self._check_s:
            return True
        self._checked_at = now
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return await self._hold()
        except (SQLAlchemyError, OSError):  # TimeoutError included
            await self.release()
            return False
        except BaseException:  # cancelled half-way: nothing half held
            await self.release()
            raise

    async def _hold(self) -> bool:
        if self._held is not None:
            await self._held.execute(text("SELECT 1"))
            return True
        # Held from here on, so that a failure below invalidates the connection.
        self._held = await (await self._engine.connect()).execution_options(
            isolation_level="AUTOCOMMIT")
        got, pid, started = (await self._held.execute(_TAKE, {"name": self.name})).one()
        if not got:
            conn, self._held = self._held, None
            await conn.close()  # holds no lock and set nothing: back to the pool
            return False
        await self._held.execute(_KEEPALIVES)
        self._backend = (pid, started)
        return True

    @property
    def pid(self) -> int | None:
        """The server process that holds the lease for this one."""
        return None if self._backend is None else self._backend[0]

    async def confirm(self, session: AsyncSession) -> bool:
        """Whether the lease is held still, as the database sees it now: in a transaction
        that writes for the holder, after its write lock. A holder that lost the lease
        since its last `hold()` (a connection cut during a long round) writes nothing
        more, while the one that took it over may be writing already."""
        if self._engine.dialect.name != "postgresql":
            return True
        if self._backend is None or self._held is None:
            return False
        pid, started = self._backend
        row = (await session.execute(
            _CONFIRM, {"name": self.name, "pid": pid, "started": started})).one()
        return bool(row[1])

    async def release(self) -> None:
        conn, self._held, self._backend = self._held, None, None  # first: if cancelled below
        if conn is not None:
            # Invalidate, not close: a pooled connection would keep the session lock alive.
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()
