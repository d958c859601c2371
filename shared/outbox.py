"""Transactional outbox: an event is a row written in the same transaction as its cause.

A relay publishes unsent rows in id order (so in order per key) with acks=all and marks them
sent. While the broker is down the rows wait; writes go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Integer, String, Text, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, utcnow
from shared.events import CloudEvent, EventData, EventType
from shared.kafka import MessageTooLarge, Producer

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Outbox events published to Kafka", ["service", "topic"]
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox event", ["service"]
)
OUTBOX_FAILURES = Counter(
    "outbox_publish_failures_total", "Failed publish attempts of the outbox relay", ["service"]
)


class OutboxMixin:
    """Columns of a service's `outbox` table (the service declares the mapped class)."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    def to_cloudevent(self) -> CloudEvent:
        return CloudEvent(
            id=self.event_id, source=self.source, type=self.type, time=self.time,
            data=orjson.loads(self.data), subject=self.subject,
        )


def record_event(
    session: AsyncSession,
    outbox: type[OutboxMixin],
    event_type: EventType[Any],
    data: EventData,
    *,
    key: str,
    source: str,
    subject: str | None = None,
    max_bytes: int = 1_048_576,
) -> CloudEvent:
    """Add an event to the outbox in the caller's transaction; it is sent after commit."""
    if not isinstance(data, event_type.data_model):
        raise TypeError(f"{event_type.type} takes {event_type.data_model.__name__}")
    event = CloudEvent.new(source, event_type.type, data, subject)
    value = event.value()
    if len(value) > max_bytes:
        # Refuse at write time: a row the broker can never take would block its key forever.
        raise MessageTooLarge(f"event {event_type.type} is {len(value)} bytes")
    session.add(
        outbox(  # type: ignore[call-arg]
            event_id=event.id, topic=event_type.topic, key=key, type=event.type,
            source=event.source, subject=subject, time=event.time, data=value.decode(),
        )
    )
    session.info["outbox_written"] = True
    return event


class OutboxRelay:
    """Publishes a service's outbox to Kafka, in order, until stopped."""

    def __init__(
        self,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: type[OutboxMixin],
        producer: Producer,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.2,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._outbox = outbox
        self._producer = producer
        self._batch_size = batch_size
        self._poll = poll_interval_s
        self._max_backoff = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = self._poll
        while True:
            try:
                sent = await self.publish_pending()
                self.last_error = None
                backoff = self._poll
                if sent >= self._batch_size:
                    continue  # more waiting: no pause
            except (KafkaError, OSError, TimeoutError) as exc:
                OUTBOX_FAILURES.labels(self.service).inc()
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay cannot publish, retrying",
                            extra={"error": self.last_error, "retryInS": backoff})
                await self._producer.reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many were sent.

        The database is not held while Kafka is awaited: rows are read in one short
        transaction and marked in another. A crash in between re-sends them (at least
        once); consumers' inboxes absorb the duplicates.
        """
        ob = self._outbox
        async with self._sessions() as session, session.begin():
            rows = list(
                (
                    await session.scalars(
                        select(ob).where(ob.published_at.is_(None)).order_by(ob.id)
                        .limit(self._batch_size)
                    )
                ).all()
            )
        if not rows:
            return 0
        futures = []
        for row in rows:
            event = row.to_cloudevent()
            futures.append(
                await self._producer.send(
                    row.topic, event.value(), row.key.encode() if row.key else None,
                    event.headers(),
                )
            )
        results = await asyncio.gather(*futures, return_exceptions=True)
        # Only the prefix that succeeded counts as sent: per-key order is kept on retry.
        sent_ids: list[int] = []
        failure: BaseException | None = None
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                failure = result
                break
            sent_ids.append(row.id)
            OUTBOX_PUBLISHED.labels(self.service, row.topic).inc()
        if sent_ids:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(ob).where(ob.id.in_(sent_ids)).values(published_at=utcnow())
                )
        if failure is not None:
            raise failure
        return len(sent_ids)

    async def backlog(self) -> tuple[int, float]:
        """(unsent rows, age in seconds of the oldest unsent row)."""
        ob = self._outbox
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(ob.created_at)).where(ob.published_at.is_(None))
                )
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # func.min bypasses the column type on SQLite
                oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=utcnow().tzinfo)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        OUTBOX_BACKLOG.labels(self.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        return int(count), age
