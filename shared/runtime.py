"""A service's moving parts, created in the app lifespan (never at import)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth import TokenVerifier
from shared.consumer import EventConsumer
from shared.db import engine_for, sessionmaker
from shared.kafka import Producer, ensure_topics
from shared.looplag import LoopLag
from shared.outbox import OutboxMixin, OutboxRelay, wrote_outbox
from shared.problems import ServiceUnavailable
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing, tracer_of

log = logging.getLogger(__name__)

ConsumerFactory = Callable[["Runtime"], list[EventConsumer]]


@dataclass
class Runtime:
    settings: ServiceSettings
    outbox: type[OutboxMixin] | None = None
    topics: list[str] = field(default_factory=list)
    consumer_factory: ConsumerFactory | None = None

    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    producer: Producer = field(init=False)
    relay: OutboxRelay | None = field(init=False, default=None)
    consumers: list[EventConsumer] = field(init=False, default_factory=list)
    token_verifier: TokenVerifier = field(init=False)
    tracer_provider: TracerProvider | None = field(init=False, default=None)
    tracer: Tracer | None = field(init=False, default=None)  # None: tracing is off
    _topic_task: asyncio.Task[None] | None = field(init=False, default=None)
    loop_lag: LoopLag | None = field(init=False, default=None)

    async def start(self) -> None:
        s = self.settings
        self.tracer_provider = configure_tracing(s)
        self.tracer = tracer_of(self.tracer_provider)
        self.engine = engine_for(s)
        self.sessions = sessionmaker(self.engine)
        self.producer = Producer(s)
        self.token_verifier = TokenVerifier(s)
        if self.topics:
            # Topics are created in the background: a service starts while the broker is down.
            self._topic_task = asyncio.create_task(self._ensure_topics())
        if self.outbox is not None and s.relay_enabled:
            self.relay = OutboxRelay(
                s.service_name, self.sessions, self.outbox, self.producer,
                batch_size=s.relay_batch_size, poll_interval_s=s.relay_poll_interval_s,
                linger_s=s.relay_linger_s,
                after_failure=self._recreate_topics,
            )
            self.relay.start()
        if self.consumer_factory is not None and s.consumer_enabled:
            self.consumers = self.consumer_factory(self)
            for consumer in self.consumers:
                consumer.tracer = self.tracer
                consumer.start()
        # Last: a start that fails before it leaves no timer behind.
        self.loop_lag = LoopLag(s.service_name)
        self.loop_lag.start()

    async def _ensure_topics(self) -> None:
        delay = 0.5
        while True:
            try:
                await ensure_topics(self.settings, self.topics)
                return
            except Exception as exc:  # broker away: keep trying, the service still serves
                log.warning("cannot create topics yet", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _recreate_topics(self) -> None:
        if self.topics:
            await asyncio.wait_for(ensure_topics(self.settings, self.topics), 10)

    async def stop(self) -> None:
        if self.loop_lag is not None:
            self.loop_lag.stop()
        if self._topic_task:
            self._topic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._topic_task
        for consumer in self.consumers:
            await consumer.stop()
        if self.relay:
            await self.relay.stop()
        await self.producer.close()
        await self.engine.dispose()
        if self.tracer_provider is not None:
            # Last, so the spans of the stopping consumers are exported too. On a thread:
            # the final export may wait for a slow collector.
            await asyncio.to_thread(self.tracer_provider.shutdown)

    def notify_relay(self) -> None:
        if self.relay:
            self.relay.notify()

    def committed(self, session: AsyncSession) -> None:
        """After a unit of work committed: wake whoever sends what it wrote (the relay for
        outbox rows; a service may wake its own workers too)."""
        if wrote_outbox(session):
            self.notify_relay()

    async def database_ok(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def runtime(request: Request) -> Runtime:
    """Dependency. Async on purpose: FastAPI runs sync dependencies on a thread pool."""
    return runtime_of(request)


@contextlib.asynccontextmanager
async def transaction(rt: Runtime) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, else rolled back; then the relay is
    told about new outbox rows. A database that is away or locked is a 503 (retry)."""
    with unavailable_as_503():
        async with rt.sessions() as session:
            async with session.begin():
                yield session
            rt.committed(session)


@contextlib.contextmanager
def unavailable_as_503() -> Iterator[None]:
    """A database that is away or locked becomes a 503 problem: nothing was committed, and
    the client may retry. Any other database error stays what it is."""
    try:
        yield
    except OperationalError as exc:
        if not _is_unavailable(exc):
            raise
        log.warning("database unavailable", extra={"error": type(exc.orig).__name__})
        raise ServiceUnavailable("the database is unavailable; retry later") from exc


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the endpoint returns, else rolled back.

    The commit happens before the response is sent, so a 2xx answer is durable; events
    written to the outbox in it are published right after.
    """
    async with transaction(runtime_of(request)) as session:
        yield session


def _is_unavailable(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    transient = ("locked", "busy", "unable to open", "disk i/o", "connection", "timeout")
    return exc.connection_invalidated or any(word in message for word in transient)


# scope="function": the exit code (the commit) runs before the response is sent, so a
# 2xx is only ever sent for a committed transaction, and a failed commit is an error answer.
SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
RuntimeDep = Annotated[Runtime, Depends(runtime)]


def settings_of(request: Request) -> Any:
    return runtime_of(request).settings
