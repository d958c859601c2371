"""Transactional outbox: an event is a row written in the same transaction as its cause.

A relay publishes unsent rows in id order (so in order per key) with acks=all and marks them
sent. While the broker is down the rows wait; writes go on. A unit of work that inserted
outbox rows knows it (`wrote_outbox`), so its owner wakes the relay right after the commit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    bindparam,
    event,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, object_session

from shared.db import UTCDateTime, utcnow
from shared.events import CloudEvent, EventData, EventType
from shared.kafka import MessageTooLarge, Outgoing, Producer, new_consumer
from shared.lease import Lease
from shared.periodic import PeriodicTask
from shared.tracing import current_traceparent

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Outbox events published to Kafka", ["service", "topic"]
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox event", ["service"]
)
OUTBOX_REPUBLISHED = Counter(
    "outbox_republished_total", "Events re-published after the broker lost them", ["service"]
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
    # Where the broker acknowledged it: lets the relay see that a broker lost data.
    partition: Mapped[int | None] = mapped_column(Integer)
    offset: Mapped[int | None] = mapped_column(BigInteger)
    # The W3C trace context of the span that wrote the event (CloudEvents distributed
    # tracing extension): captured at write time, since the relay publishes it later.
    traceparent: Mapped[str | None] = mapped_column(String(55))


_WROTE_OUTBOX = "shared.outbox.wrote"


@event.listens_for(OutboxMixin, "after_insert", propagate=True)
def _note_outbox_write(mapper: Mapper[Any], connection: Any, row: OutboxMixin) -> None:
    # Every service's outbox class derives from the mixin, so every ORM insert of an event
    # passes here, whoever wrote it.
    session = object_session(row)
    if session is not None:
        note_outbox_write(session)


def note_outbox_write(session: AsyncSession | Session) -> None:
    """The session inserted outbox rows (said by who inserts them with a Core statement)."""
    session.info[_WROTE_OUTBOX] = True


def wrote_outbox(session: AsyncSession) -> bool:
    """Whether the session inserted outbox rows: after its commit, the relay should publish.

    Rows inserted through the ORM count, and those of a Core insert whose writer said so
    (`note_outbox_write`); the signals group writer wakes the relay itself.
    """
    return bool(session.info.get(_WROTE_OUTBOX))


def outbox_row(
    event_type: EventType[Any],
    data: EventData,
    *,
    key: str,
    source: str,
    subject: str | None = None,
    max_bytes: int = 1_048_576,
) -> dict[str, Any]:
    """The column values of an event's outbox row, for a session or a Core insert."""
    if not isinstance(data, event_type.data_model):
        raise TypeError(f"{event_type.type} takes {event_type.data_model.__name__}")
    event = CloudEvent.new(source, event_type.type, data, subject)
    value = event.value()
    if len(value) > max_bytes:
        # Refuse at write time: a row the broker can never take would block its key forever.
        raise MessageTooLarge(f"event {event_type.type} is {len(value)} bytes")
    return {"event_id": event.id, "topic": event_type.topic, "key": key, "type": event.type,
            "source": event.source, "subject": subject, "time": event.time,
            "data": value.decode(), "traceparent": current_traceparent(),
            "created_at": utcnow()}


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
) -> None:
    """Add an event to the outbox in the caller's transaction; it is sent after commit."""
    row = outbox_row(event_type, data, key=key, source=source, subject=subject,
                     max_bytes=max_bytes)
    session.add(outbox(**row))


def _headers(row: Any) -> list[tuple[str, bytes]]:
    """The CloudEvents headers of an outbox row (selected columns); its data goes out as
    stored, so the envelope here carries none."""
    return CloudEvent(
        id=row.event_id, source=row.source, type=row.type, time=row.time, data={},
        subject=row.subject,
        extensions={"traceparent": row.traceparent} if row.traceparent else {},
    ).headers()


LOG_END_TIMEOUT_S = 10.0


class OutboxRelay(PeriodicTask):
    """Publishes a service's outbox to Kafka, in order, until stopped.

    A tick publishes one batch (at once again when the batch was full); commits that wrote
    outbox rows `notify()` it, so events go out right after their commit, not at the next poll.
    """

    def __init__(
        self,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: type[OutboxMixin],
        producer: Producer,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.2,
        linger_s: float = 0.0,
        max_backoff_s: float = 5.0,
        after_failure: Callable[[], Awaitable[None]] | None = None,
        verify_interval_s: float = 5.0,
    ) -> None:
        super().__init__(interval_s=poll_interval_s, max_backoff_s=max_backoff_s)
        self.name = f"{service}-outbox-relay"
        self.linger_s = linger_s
        self.service = service
        self._sessions = sessions
        self._outbox = outbox
        self._producer = producer
        self._batch_size = batch_size
        self._after_failure = after_failure
        self._high: dict[tuple[str, int], int] = {}
        self._lease = Lease(sessions.kw["bind"], f"outbox-relay:{service}")
        self._leading = False
        self._backing_off = False
        self._verify_every = verify_interval_s
        self._verified_at: float | None = None  # None: verify at the next tick
        table = outbox.__table__  # type: ignore[attr-defined]
        self._mark = update(table).where(table.c.id == bindparam("row_id")).values(
            published_at=bindparam("at"), partition=bindparam("row_partition"),
            offset=bindparam("row_offset"))

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish now, not at the next poll.

        Not while a standby (it has nothing to publish) or backing off from a failure: under
        load every request commits, and each would cut the wait short, so a broker that is
        down would be tried at the request rate. The next tick finds the rows anyway.
        """
        if self._leading and not self._backing_off:
            super().notify()

    async def stop(self) -> None:
        await super().stop()
        await self._lease.release()

    async def tick(self) -> float | None:
        self._backing_off = False
        self._leading = await self.lead()
        if not self._leading:
            return max(self.interval_s, 1.0)  # a standby: try for the lead now and then
        now = asyncio.get_running_loop().time()
        if self._verified_at is None or now - self._verified_at >= self._verify_every:
            await self.verify_broker()
            self._verified_at = asyncio.get_running_loop().time()
        sent = await self.publish_pending()
        return 0.0 if sent >= self._batch_size else None  # a full batch: more is waiting

    async def failed(self, exc: Exception) -> None:
        OUTBOX_FAILURES.labels(self.service).inc()
        self._backing_off = True
        log.warning("outbox relay cannot publish, retrying",
                    extra={"error": self.last_error, "retryInS": self.backoff_s()})
        if isinstance(exc, KafkaError | OSError | TimeoutError):
            await self._producer.reset()
            self._verified_at = None  # after an outage, check what the broker still has

    async def lead(self) -> bool:
        """Only one relay per database publishes, so per-key order holds with N replicas
        (`shared.lease`: a standby takes over when the leader's process dies)."""
        was = self._lease.held
        leading = await self._lease.hold()
        if leading and not was:
            log.info("this relay leads the outbox", extra={"service": self.service})
        return leading

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many were sent.

        The database is not held while Kafka is awaited: rows are read in one short
        transaction and marked in another. A crash in between re-sends them (at least
        once); consumers' inboxes absorb the duplicates.
        """
        ob = self._outbox
        async with self._sessions() as session, session.begin():
            # Columns, not entities: the relay only reads them, and the ORM's identity map
            # would cost more than the rest of the publishing.
            rows = (await session.execute(
                select(ob.id, ob.event_id, ob.topic, ob.key, ob.type, ob.source, ob.subject,
                       ob.time, ob.data, ob.traceparent)
                .where(ob.published_at.is_(None)).order_by(ob.id).limit(self._batch_size)
            )).all()
        if not rows:
            return 0
        placed = await self._producer.send_all([
            Outgoing(row.topic, row.key.encode() if row.key else None, row.data.encode(),
                     _headers(row)) for row in rows])
        await asyncio.wait({p.batch for p in placed})
        # Only the prefix that succeeded counts as sent: per-key order is kept on retry.
        acks: list[tuple[int, int, int]] = []
        failure: BaseException | None = None
        regressed: dict[tuple[str, int], int] = {}
        for row, place in zip(rows, placed, strict=True):
            try:
                partition, offset = place.where()
            except (Exception, asyncio.CancelledError) as exc:  # as the batch failed
                failure = exc
                break
            tp = (row.topic, partition)
            if offset <= self._high.get(tp, -1):
                # The log end went back: the broker lost what we had published there.
                regressed[tp] = min(offset, regressed.get(tp, offset))
            self._high[tp] = offset
            acks.append((row.id, partition, offset))
        if acks:
            await self._mark_sent(acks)
            for topic, count in collections.Counter(row.topic for row in rows[:len(acks)]).items():
                OUTBOX_PUBLISHED.labels(self.service, topic).inc(count)
        if regressed:
            await self.republish_lost(regressed, exclude_ids=[a[0] for a in acks])
        if failure is not None:
            raise failure
        return len(acks)

    async def _mark_sent(self, acks: list[tuple[int, int, int]]) -> None:
        """One executemany by primary key, on the table: the ORM's bulk update by primary
        key cost more per row than publishing it."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            await session.execute(self._mark, [
                {"row_id": row_id, "at": now, "row_partition": partition, "row_offset": offset}
                for row_id, partition, offset in acks])

    async def verify_broker(self) -> None:
        """Re-publish from the outbox what a broker that lost data no longer has.

        A topic we published to that no longer exists (the embedded broker restarted, or a
        cluster was rebuilt) lost everything; consumers' inboxes absorb what they had seen.
        """
        if not self._high:
            # A relay that starts knows nothing of what it published before: the outbox does.
            # A broker whose log ends before offsets recorded there lost them while no relay
            # ran (an embedded broker restarted between two `make run`s, a rebuilt cluster).
            self._high = await self._recorded_high()
            lost = await self._ended_before(self._high)
            if lost:
                await self.republish_lost(lost, exclude_ids=[])
        producer = await self._producer.get()
        metadata = await producer.client.fetch_all_metadata()
        existing = set(metadata.topics())
        missing = {topic for topic, _ in self._high} - existing
        if missing:
            if self._after_failure is not None:
                await self._after_failure()  # re-create the topics before sending again
            await self.republish_lost({(t, -1): 0 for t in missing}, exclude_ids=[])

    async def _recorded_high(self) -> dict[tuple[str, int], int]:
        """The highest offset the outbox records per topic and partition."""
        ob = self._outbox
        async with self._sessions() as session:
            rows = await session.execute(
                select(ob.topic, ob.partition, func.max(ob.offset))
                .where(ob.published_at.is_not(None), ob.partition.is_not(None))
                .group_by(ob.topic, ob.partition))
            return {(topic, partition): high for topic, partition, high in rows
                    if partition is not None and high is not None}

    async def _ended_before(self, high: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
        """The partitions whose log now ends at or before an offset we recorded, with that end.

        The log end is the high watermark of a fetch, not ListOffsets: Tansu answers
        `end_offsets` wrongly after batched produce (1 for a partition holding 50 records),
        which would make healthy partitions look emptied and send their events twice.
        A partition whose end is not known in time is left alone: a wrong guess would send all
        its events twice, and the publish-time check still sees the loss once the next event
        sent there lands at an offset the outbox already records.
        """
        if not high:
            return {}
        reader = new_consumer(self._producer.settings, enable_auto_commit=False, group_id=None,
                              auto_offset_reset="earliest", max_partition_fetch_bytes=1024)
        await reader.start()
        partitions: list[TopicPartition] = []
        ends: dict[TopicPartition, int] = {}
        try:
            topics = await reader.topics()  # a topic that is gone: verify_broker's own check
            partitions = [TopicPartition(t, p) for t, p in high if t in topics]
            if partitions:
                reader.assign(partitions)
                for tp in partitions:
                    reader.seek(tp, 0)
                deadline = asyncio.get_running_loop().time() + LOG_END_TIMEOUT_S
                while len(ends) < len(partitions) \
                        and asyncio.get_running_loop().time() < deadline:
                    await reader.getmany(*partitions, timeout_ms=100, max_records=1)
                    ends = {tp: end for tp in partitions
                            if (end := reader.highwater(tp)) is not None}
        finally:
            await reader.stop()
        if len(ends) < len(partitions):
            log.warning("log ends unknown for some partitions; not checked",
                        extra={"partitions": sorted(f"{tp.topic}:{tp.partition}"
                                                    for tp in partitions if tp not in ends)})
        return {(tp.topic, tp.partition): end for tp, end in ends.items()
                if end <= high[(tp.topic, tp.partition)]}

    async def republish_lost(
        self, lost_from: dict[tuple[str, int], int], exclude_ids: list[int]
    ) -> None:
        """Mark rows at or past a partition's new end unsent (partition -1: the whole topic)."""
        ob = self._outbox
        total = 0
        async with self._sessions() as session, session.begin():
            for (topic, partition), end in lost_from.items():
                where = [ob.topic == topic, ob.published_at.is_not(None)]
                if partition >= 0:
                    where += [ob.partition == partition, ob.offset >= end]
                if exclude_ids:
                    where.append(ob.id.not_in(exclude_ids))
                result = await session.execute(
                    update(ob).where(*where).values(published_at=None, partition=None,
                                                    offset=None))
                total += int(result.rowcount)  # type: ignore[attr-defined]
                self._high = {tp: o for tp, o in self._high.items()
                              if tp[0] != topic or (partition >= 0 and tp[1] != partition)}
        OUTBOX_REPUBLISHED.labels(self.service).inc(total)
        log.warning("broker lost published events; re-publishing them from the outbox",
                    extra={"rows": total, "partitions": sorted(f"{t}:{p}" for t, p in lost_from)})
        self.notify()

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
