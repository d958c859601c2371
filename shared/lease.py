"""A role that one process per database plays at a time (the outbox relay, the snapshot
worker), while the others stand by.

On PostgreSQL a session advisory lock, held on a dedicated connection: when the holder's
process dies, its connection and the lock go with it, and a standby takes over at its next
try. SQLite is written by one process anyway: the lease is always held.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class Lease:
    def __init__(self, engine: AsyncEngine, name: str, *, check_s: float = 0.0) -> None:
        self.name = name
        self._engine = engine
        self._check_s = check_s  # how long a check of the held lease holds good
        self._held: AsyncConnection | None = None
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
            if self._held is not None:
                await self._held.execute(text("SELECT 1"))
                return True
            # Held from here on, so that a failure below invalidates the connection.
            self._held = await (await self._engine.connect()).execution_options(
                isolation_level="AUTOCOMMIT")
            if not await self._held.scalar(
                    text("SELECT pg_try_advisory_lock(hashtext(:name))"), {"name": self.name}):
                conn, self._held = self._held, None
                await conn.close()  # holds no lock: back to the pool
                return False
            return True
        except (DBAPIError, OSError):
            await self.release()
            return False

    async def release(self) -> None:
        if self._held is not None:
            # Invalidate, not close: a pooled connection would keep the session lock alive.
            with contextlib.suppress(Exception):
                await self._held.invalidate()
            with contextlib.suppress(Exception):
                await self._held.close()
            self._held = None
