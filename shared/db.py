"""Database engines and the unit of work, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import functools
import ssl
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    MetaData,
    String,
    TypeDecorator,
    event,
    make_url,
    text,
)
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql.dml import ReturningInsert

from shared import sqlite_inline
from shared.settings import ServiceSettings

#: What `upsert_statement` builds: a dialect's INSERT ... ON CONFLICT, with RETURNING or not.
Upsert = PgInsert | SqliteInsert | ReturningInsert[Any]

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC datetimes out, on every backend (SQLite forgets tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UUIDString(TypeDecorator[uuid.UUID]):
    """UUIDs stored as 36-character text: portable and readable in both databases."""

    impl = String(36)
    cache_ok = True

    def process_bind_param(self, value: uuid.UUID | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(value)


def service_metadata() -> MetaData:
    """A service's own schema: `class Base(DeclarativeBase): metadata = service_metadata()`."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, busy_timeout_ms: int = 5000, *, immediate: bool = True,
                  **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, FULL sync, a busy timeout and immediate transactions.

    `immediate=False`: plain (deferred) transactions, for an engine that only reads: in WAL
    mode its reads then neither wait for nor block the writer.

    SQLite allows one writer: a single pooled connection, used inline on the event loop
    (see shared.sqlite_inline), serialises this process's access, and BEGIN IMMEDIATE makes
    other processes (CLI commands, a second worker) wait for the lock up front instead of
    failing on a read-to-write upgrade.
    """
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        return create_async_engine(url, **kwargs)

    path = make_url(url).database or ":memory:"
    engine = create_async_engine(
        url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0,
        pool_timeout=30, async_creator=sqlite_inline.creator(path, busy_timeout_ms), **kwargs,
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def connect_args(settings: ServiceSettings) -> dict[str, Any]:
    """asyncpg's TLS option from the settings; `prefer` leaves it to the driver and the URL.

    An SSLContext rather than `ssl="verify-full"`: the driver would take the root certificate
    only from PGSSLROOTCERT or ~/.postgresql, and a URL's `sslrootcert` is not passed on.
    """
    if settings.database_sslmode == "prefer":
        return {}
    if settings.database_sslmode == "disable":
        return {"ssl": False}
    # verify-full: the chain must end at the root certificate and the certificate must name
    # the host the URL connects to (check_hostname, with CERT_REQUIRED, is on by default).
    context = ssl.create_default_context(cafile=settings.database_sslrootcert or None)
    if settings.database_sslcert:
        context.load_cert_chain(settings.database_sslcert, settings.database_sslkey)
    return {"ssl": context}


def engine_for(settings: ServiceSettings, url: str | None = None, *, reads_only: bool = False
               ) -> AsyncEngine:
    """A service's engine: its database (or `url`), over TLS as its settings say.

    `reads_only`: an engine whose transactions only read, each from one snapshot of the
    database. SQLite's deferred BEGIN in WAL mode gives that (see `create_engine`'s
    `immediate`); PostgreSQL's default, READ COMMITTED, gives each statement a snapshot of
    its own, so a round of the snapshot worker could read a buurt's dirty mark without the
    facts it counted. REPEATABLE READ, read-only: a transaction that only reads never fails
    to serialise there, and one that writes by mistake fails at once.
    """
    url = url or settings.sqlalchemy_url()
    if is_sqlite(url):
        return create_engine(url, settings.sqlite_busy_timeout_ms, immediate=not reads_only)
    if reads_only:
        return create_engine(url, connect_args=connect_args(settings),
                             isolation_level="REPEATABLE READ",
                             execution_options={"postgresql_readonly": True})
    return create_engine(url, connect_args=connect_args(settings))


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def try_exclusive(session: AsyncSession, name: str) -> bool:
    """Claim `name` for the rest of the session's transaction, if no other replica holds it.

    On PostgreSQL a transaction-level advisory lock (released at commit or rollback): a
    periodic job that several replicas run then runs on one of them at a time, the others
    skip the tick. SQLite has one writer at a time anyway (BEGIN IMMEDIATE): always True.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"),
                               {"name": name})
    return bool(got)


def upsert_statement(session: AsyncSession | Session, table: Any, *, on: tuple[str, ...] = (),
                     update: tuple[str, ...] = (), returning: tuple[str, ...] = ()
                     ) -> Upsert:
    """INSERT ... ON CONFLICT DO NOTHING or, with `update`, DO UPDATE SET those columns from
    the new row where the columns `on` conflict; values are given as parameters. With
    `returning`, those columns of each row it inserted or updated.

    Built once per dialect and table: a consumer runs such statements for every event, and
    building one (its `excluded` alias above all) cost as much CPU as executing it.
    SQLAlchemy statements are immutable, so one object serves every session."""
    return _upsert_statement(session.get_bind().dialect.name, table, on, update, returning)


@functools.cache
def _upsert_statement(dialect: str, table: Any, on: tuple[str, ...], update: tuple[str, ...],
                      returning: tuple[str, ...]) -> Upsert:
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    upsert = insert.on_conflict_do_update(
        index_elements=list(on), set_={column: insert.excluded[column] for column in update},
    ) if update else insert.on_conflict_do_nothing()
    return upsert.returning(*(table.c[column] for column in returning)) if returning else upsert
