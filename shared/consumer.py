"""Idempotent consumer: inbox row and effect in one transaction, offsets committed after.

Per message: decode the CloudEvent (undecodable -> dead-letter topic at once), then in one
database transaction insert (consumer, ce_source, ce_id) into the inbox and apply the effect
only if that row is new. Failures are retried a few times with backoff, then dead-lettered
with the original key and headers plus error headers. Offsets are committed after each
batch and when partitions are revoked; auto-commit is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, upsert_statement, utcnow
from shared.events import CloudEvent, EnvelopeError, EventData, EventType, decode
from shared.events import describe_validation_error as describe
from shared.kafka import Producer, dlq_topic, new_consumer
from shared.outbox import wrote_outbox
from shared.periodic import PeriodicTask
from shared.settings import ServiceSettings
from shared.tracing import consumer_span

log = logging.getLogger(__name__)

#: Events applied in one transaction, and how many between two turns of the event loop. On
#: SQLite statements take no turn of the loop (shared.sqlite_inline), and an event costs 1-3 ms
#: there at national intake: a fetch of 500 applied in one go held every request for over
#: 100 ms. A transaction per 10 events fell behind 200 signals/s (each waits for the write
#: lock the snapshot worker takes in turn), so a transaction holds 50 with turns between.
APPLY_SLICE = 50
TURN_EVERY = 10

EVENTS_PROCESSED = Counter(
    "events_processed_total", "Consumed events by outcome",
    ["consumer", "type", "outcome"],  # applied | duplicate | ignored | dead-lettered
)
CONSUMER_LAG = Gauge("consumer_lag", "Messages behind the partition's high-water mark",
                     ["consumer", "topic", "partition"])
EVENTS_FAILED = Counter("event_failures_total", "Failed attempts to apply an event",
                        ["consumer", "type"])


class InboxMixin:
    """Columns of a service's `inbox` table: which events each consumer applied."""

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PermanentError(Exception):
    """The event can never be applied (e.g. it breaks a contract): dead-letter, don't retry."""


E = TypeVar("E", bound=EventData)

#: Applies one event of type E in the consumer's transaction (the session is inside it).
Handler = Callable[[AsyncSession, CloudEvent, E], Awaitable[None]]
#: Reads, in one statement, what the handler would look up for each of a batch's events of
#: type E (into the session's `info`), before any of them is applied.
Prepare = Callable[[AsyncSession, list[E]], Awaitable[None]]


@dataclass(frozen=True)
class Route(Generic[E]):
    """An event type and the handler that applies it, given the data parsed into the type's
    own model (build one with `handles`, which checks that the two match)."""

    event_type: EventType[E]
    handler: Handler[E]
    prepare: Prepare[E] | None = None


#: A consumer's table of routes, one event type each.
Routes = list[Route[Any]]


def handles(event_type: EventType[E], handler: Handler[E], prepare: Prepare[E] | None = None
            ) -> Route[Any]:
    """A route of a table: `handles(SIGNAL_RECORDED, on_signal_recorded)`.

    The type checker matches the handler's data type with the event type's here, where both
    are known; a `Route(...)` written straight into a `Routes` list takes its type from the
    list (`Any`) and would not be checked.
    """
    return Route(event_type, handler, prepare)


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EventConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._owner.commit_processed()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class EventConsumer(PeriodicTask):
    """Consumes topics in a consumer group and applies routed events exactly once each.

    A tick is one fetch (`getmany`, which itself waits up to half a second for messages),
    applied in slices of APPLY_SLICE and committed; the next follows at once. A failed tick
    drops the Kafka consumer and the next one joins the group afresh, after a backoff.
    """

    def __init__(
        self,
        name: str,
        topics: list[str],
        routes: Routes,
        settings: ServiceSettings,
        sessions: async_sessionmaker[AsyncSession],
        inbox: type[InboxMixin],
        producer: Producer,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(interval_s=0.5, max_backoff_s=5.0)
        self.name = name
        self.topics = topics
        self.routes: Mapping[str, Route[Any]] = {r.event_type.type: r for r in routes}
        self._settings = settings
        self._sessions = sessions
        self._inbox = inbox
        self._producer = producer
        self._after_commit = after_commit
        self._consumer: AIOKafkaConsumer | None = None
        self._processed: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}

    @property
    def connected(self) -> bool:
        """In its consumer group (what readiness reports)."""
        return self._consumer is not None

    async def stop(self) -> None:
        await super().stop()
        await self._disconnect()

    async def tick(self) -> float:
        consumer = self._consumer or await self._connect()
        batch = await consumer.getmany(timeout_ms=500, max_records=500)
        for tp, messages in batch.items():
            for start in range(0, len(messages), APPLY_SLICE):
                part = messages[start:start + APPLY_SLICE]
                if not await self.apply_together(part):
                    for message in part:
                        await self.handle(message)
                self._processed[tp] = self._positions[tp] = part[-1].offset + 1
                await asyncio.sleep(0)  # see TURN_EVERY
        await self.commit_processed()
        self._report_lag(consumer)
        return 0.0  # getmany is the wait

    async def failed(self, exc: Exception) -> None:
        log.warning("consumer failed (usually: lost the broker); rejoining",
                    extra={"consumer": self.name, "error": repr(exc)})
        # The fetch position is past messages a failed tick may not have applied: only a new
        # consumer, starting from the committed offsets, is sure to see them again.
        await self._disconnect()

    async def _connect(self) -> AIOKafkaConsumer:
        s = self._settings
        consumer = new_consumer(
            s,
            group_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_records=500,
            # Notice re-created topics soon (a broker that lost its data, a new cluster).
            metadata_max_age_ms=5000,
        )
        try:
            await consumer.start()
            consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        except BaseException:  # the broker is away, or stop() came: leave no client behind
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        self._consumer = consumer
        return consumer

    async def _disconnect(self) -> None:
        """Commit what was applied and leave the group; never raises a broker error (it is
        what a failed tick calls)."""
        consumer = self._consumer
        if consumer is None:
            return
        try:
            with contextlib.suppress(KafkaError):
                await self.commit_processed()
        finally:
            self._consumer = None
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()

    async def commit_processed(self) -> None:
        if self._consumer is None or not self._processed:
            return
        offsets = {tp: off for tp, off in self._processed.items()
                   if tp in self._consumer.assignment()}
        self._processed.clear()
        if offsets:
            await self._consumer.commit(offsets)

    def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        # highwater() comes with each fetch; end_offsets() is wrong on the embedded broker.
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None and tp in self._positions:
                CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(
                    max(0, high - self._positions[tp]))

    # -- a batch in one transaction ----------------------------------------------------------
    async def apply_together(self, messages: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """The fast path: a partition's batch in one transaction.

        One commit for many events instead of one each. Anything unusual (a message that
        does not decode or validate, a handler that fails) rolls the whole batch back and
        returns False: the caller then takes the careful path, message by message, with
        retries and dead letters. The inbox keeps that safe. So no message needs a savepoint
        of its own, which would cost two statements and a flush per event: about what the
        effect itself costs.

        For the same reason the batch is claimed in the inbox in one statement, and each
        route's `prepare` looks up what its events need in one: a statement per event for
        each was two thirds of what an event cost the indicators' consumer.
        """
        if len(messages) < 2:
            return False
        work = []
        for message in messages:
            try:
                event = decode(message.headers, message.value)
            except EnvelopeError:
                return False
            route = self.routes.get(event.type)
            if route is not None:
                try:
                    work.append((event, route, route.event_type.parse(event.data)))
                except ValidationError:
                    return False
        outcomes: list[tuple[str, str]] = []
        try:
            async with self._sessions() as session, session.begin():
                claimed = await self._claim(session, [event for event, _, _ in work])
                fresh = []
                for item, new in zip(work, claimed, strict=True):
                    if new:
                        fresh.append(item)
                    else:
                        outcomes.append((item[0].type, "duplicate"))
                await self._prepare(session, fresh)
                for i, (event, route, data) in enumerate(fresh):
                    if i and not i % TURN_EVERY:
                        await asyncio.sleep(0)  # see TURN_EVERY
                    with self._span(route, event):
                        await route.handler(session, event, data)
                    outcomes.append((event.type, "applied"))
        except Exception:
            log.info("batch apply failed; applying one by one", extra={"consumer": self.name})
            return False
        for event_type, outcome in outcomes:
            EVENTS_PROCESSED.labels(self.name, event_type, outcome).inc()
        if self._after_commit and wrote_outbox(session):
            self._after_commit()
        return True

    # -- one message -----------------------------------------------------------------------
    async def handle(self, message: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = decode(message.headers, message.value)
        except EnvelopeError as exc:
            await self.dead_letter(message, exc)
            return
        route = self.routes.get(event.type)
        if route is None:
            # Not ours to apply (another type on the topic, or a newer major): skip quietly.
            EVENTS_PROCESSED.labels(self.name, event.type, "ignored").inc()
            return
        try:
            data = route.event_type.parse(event.data)
        except ValidationError as exc:
            await self.dead_letter(message, PermanentError(describe(exc)))
            return
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                applied = await self.apply(route, event, data)
            except PermanentError as exc:
                await self.dead_letter(message, exc)
                return
            except Exception as exc:
                EVENTS_FAILED.labels(self.name, event.type).inc()
                if attempt == attempts:
                    await self.dead_letter(message, exc)
                    return
                log.warning("applying event failed, retrying", extra={
                    "consumer": self.name, "eventType": event.type, "eventId": event.id,
                    "attempt": attempt, "error": type(exc).__name__})
                await asyncio.sleep(self._settings.consumer_backoff_s * 2 ** (attempt - 1))
            else:
                EVENTS_PROCESSED.labels(
                    self.name, event.type, "applied" if applied else "duplicate"
                ).inc()
                return

    async def apply(self, route: Route[Any], event: CloudEvent, data: EventData) -> bool:
        """Inbox row + effect in one transaction. False when the event was seen before."""
        with self._span(route, event):
            async with self._sessions() as session, session.begin():
                if not (await self._claim(session, [event]))[0]:
                    return False
                await route.handler(session, event, data)
        if self._after_commit and wrote_outbox(session):
            self._after_commit()
        return True

    def _span(self, route: Route[Any], event: CloudEvent) -> contextlib.AbstractContextManager[Any]:
        # A child of the span that wrote the event: events the effect records carry the
        # same trace onward through the outbox.
        return consumer_span(
            self.tracer, topic=route.event_type.topic, group=self.name, event_id=event.id,
            event_type=event.type, traceparent=event.extensions.get("traceparent"))

    async def _claim(self, session: AsyncSession, events: list[CloudEvent]) -> list[bool]:
        """Inbox rows for `events`, in one statement built once: whether each event is new,
        the first of two with one id (a redelivery within a batch) counting as the new one."""
        if not events:
            return []
        now = utcnow()
        keys = [(event.source, event.id) for event in events]
        result = await session.execute(
            upsert_statement(session, self._inbox.__table__,  # type: ignore[attr-defined]
                             returning=("source", "event_id")),
            [{"consumer": self.name, "source": source, "event_id": event_id,
              "processed_at": now} for source, event_id in dict.fromkeys(keys)])
        new = {(source, event_id) for source, event_id in result}
        claimed = []
        for key in keys:
            claimed.append(key in new)
            new.discard(key)
        return claimed

    async def _prepare(self, session: AsyncSession,
                       work: list[tuple[CloudEvent, Route[Any], EventData]]) -> None:
        by_route: dict[str, tuple[Route[Any], list[EventData]]] = {}
        for event, route, data in work:
            if route.prepare is not None:
                by_route.setdefault(event.type, (route, []))[1].append(data)
        for route, datas in by_route.values():
            await route.prepare(session, datas)  # type: ignore[misc]

    async def dead_letter(self, message: ConsumerRecord[bytes, bytes], exc: BaseException) -> None:
        """Park the message on `<topic>.dlq` with its key and headers and why it failed.

        Awaited until the broker acknowledges: the offset is committed only after, so a
        poison message is never lost.
        """
        EVENTS_PROCESSED.labels(self.name, _header(message, "ce_type") or "unknown",
                                "dead-lettered").inc()
        headers = list(message.headers or ()) + [
            ("dlq_original_topic", message.topic.encode()),
            ("dlq_original_partition", str(message.partition).encode()),
            ("dlq_original_offset", str(message.offset).encode()),
            ("dlq_consumer_group", self.name.encode()),
            ("dlq_exception_type", type(exc).__name__.encode()),
            ("dlq_exception_message", str(exc)[:2000].encode()),
            ("dlq_failed_at", utcnow().isoformat().encode()),
        ]
        log.error("event dead-lettered", extra={
            "consumer": self.name, "topic": message.topic, "partition": message.partition,
            "offset": message.offset, "error": type(exc).__name__})
        while True:
            try:
                fut = await self._producer.send(
                    dlq_topic(message.topic), message.value or b"", message.key, headers
                )
                await fut
                return
            except (KafkaError, OSError) as send_exc:
                log.warning("dead-letter send failed, retrying", extra={"error": repr(send_exc)})
                await self._producer.reset()
                await asyncio.sleep(1.0)


def _header(message: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in message.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None
