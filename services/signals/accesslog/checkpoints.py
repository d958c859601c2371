"""Checkpoints of the access log's head, kept in Kafka: outside the database they guard.

A keyed chain shows any entry altered, and any entry removed from its middle, but not entries
cut from its end together with the head row: what is left is still a valid chain. So the
head (sequence and hash, no personal data) is published every
`access_log_checkpoint_interval_s` to `access-log-checkpoints.v1`, and a verification compares
the chain with the latest checkpoint there.

Why directly and not through the outbox: the outbox lives in the database an attacker would
edit, so a checkpoint waiting there could be changed or dropped before the relay sends it.
Published directly it is out of the database's reach as soon as the broker acknowledges it
(acks=all). The outbox's guarantees are not needed either: a checkpoint that fails to go out
is simply taken again at the next interval from the then current head, and a duplicate
(every replica publishes) says the same thing twice.

Why Kafka: it is already there, writable only by signals (an ACL), one partition, compacted,
so the latest checkpoint is kept for ever and is the last record of partition 0. Verification
reads just that record. What is cut off within one interval after the last checkpoint is not
detectable; the interval bounds that window (default a minute).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry.trace import Tracer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.signals.accesslog import repository
from services.signals.accesslog.chain import ChainPosition
from services.signals.settings import Settings
from shared.contracts.signals import (
    ACCESS_LOG_CHECKPOINT_KEY,
    ACCESS_LOG_CHECKPOINTED,
    AccessLogCheckpointed,
)
from shared.db import utcnow
from shared.events import CloudEvent, EnvelopeError, decode
from shared.kafka import Producer, new_consumer
from shared.periodic import PeriodicTask
from shared.problems import ServiceUnavailable

log = logging.getLogger(__name__)

#: Every checkpoint goes to partition 0, whatever the topic's partition count, so the latest
#: one is always that partition's last record.
PARTITION = 0
READ_TIMEOUT_S = 5.0


async def publish(producer: Producer, settings: Settings, head: ChainPosition,
                  ) -> AccessLogCheckpointed:
    """Send the head and wait until the broker has it (acks=all)."""
    data = AccessLogCheckpointed(sequence=head.sequence, entry_hash=head.head,
                                 checkpointed_at=utcnow())
    event = CloudEvent.new(settings.cloudevents_source(), ACCESS_LOG_CHECKPOINTED.type, data)
    client = await producer.get()
    await client.send_and_wait(
        settings.access_log_checkpoint_topic, event.value(),
        key=ACCESS_LOG_CHECKPOINT_KEY.encode(), partition=PARTITION, headers=event.headers())
    return data


async def latest(settings: Settings) -> AccessLogCheckpointed | None:
    """The newest checkpoint; None if none was ever published. 503 if the broker is away:
    a verification without the checkpoint could not see a cut-off tail."""
    topic = settings.access_log_checkpoint_topic
    reader = new_consumer(settings, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest", request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(reader.start(), READ_TIMEOUT_S)
        if topic not in await asyncio.wait_for(reader.topics(), READ_TIMEOUT_S):
            return None
        return await asyncio.wait_for(_last_record(reader, TopicPartition(topic, PARTITION)),
                                      READ_TIMEOUT_S)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.warning("access log checkpoint unreadable", extra={"error": repr(exc)})
        raise ServiceUnavailable(
            "the access log's checkpoints cannot be read; retry later") from exc
    finally:
        await reader.stop()


async def _last_record(reader: AIOKafkaConsumer, tp: TopicPartition,
                       ) -> AccessLogCheckpointed | None:
    reader.assign([tp])
    end = (await reader.end_offsets([tp]))[tp]
    if end == 0:
        return None
    reader.seek(tp, end - 1)
    found: AccessLogCheckpointed | None = None
    while True:
        # Read up to the high watermark of the fetch itself (the embedded broker's
        # ListOffsets can lag behind it).
        batch = await reader.getmany(tp, timeout_ms=200)
        for record in batch.get(tp, []):
            found = _parse(record.headers, record.value) or found
        high = reader.highwater(tp)
        if high is not None and await reader.position(tp) >= high:
            return found


def _parse(headers: Sequence[tuple[str, bytes]], value: bytes | None,
           ) -> AccessLogCheckpointed | None:
    try:
        event = decode(headers, value)
    except EnvelopeError:
        return None
    if event.type != ACCESS_LOG_CHECKPOINTED.type:
        return None
    try:
        return ACCESS_LOG_CHECKPOINTED.parse(event.data)
    except ValidationError:
        return None


def position(checkpoint: AccessLogCheckpointed) -> ChainPosition:
    return ChainPosition(checkpoint.sequence, checkpoint.entry_hash)


class CheckpointTask(PeriodicTask):
    """Publishes the access log's head every `access_log_checkpoint_interval_s` when it moved
    since this process last did, the first one interval after start."""

    name = "access log checkpoint"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], producer: Producer,
                 settings: Settings, *, topics_ready: Callable[[], Awaitable[None]],
                 tracer: Tracer | None = None) -> None:
        interval_s = settings.access_log_checkpoint_interval_s
        # A failed round is simply taken again at the next interval, from the then head.
        super().__init__(interval_s=interval_s, max_backoff_s=interval_s, first_delay=True,
                         tracer=tracer)
        self.sessions = sessions
        self.producer = producer
        self.settings = settings
        self.topics_ready = topics_ready
        self._checkpointed = 0

    async def tick(self) -> None:
        await self.checkpoint()

    async def failed(self, exc: Exception) -> None:
        log.warning("access log checkpoint failed", extra={"error": repr(exc)})

    async def checkpoint(self) -> AccessLogCheckpointed | None:
        """Publish the head if it moved since this process last did (None: nothing sent)."""
        await self.topics_ready()
        async with self.sessions() as session:
            head = await repository.head(session)
            if head.sequence == 0 or head.sequence == self._checkpointed:
                return None
            # A checkpoint only moves forward: a head that does not extend the last one (a cut
            # tail, a rewritten chain) must never become the new truth verification trusts.
            last = await latest(self.settings)
            if last is not None:
                at = position(last)
                kept = await repository.entry_at(session, at.sequence)
                if head.sequence < at.sequence or kept is None or kept.entry_hash != at.head:
                    log.error("access log does not extend its last checkpoint; not checkpointed",
                              extra={"checkpointSequence": at.sequence,
                                     "headSequence": head.sequence})
                    return None
        published = await publish(self.producer, self.settings, head)
        self._checkpointed = head.sequence
        return published
