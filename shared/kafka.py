"""Kafka clients: one lazily started producer per process, and explicit topic creation.

Written for Apache Kafka; the embedded broker (Tansu) lacks idempotent producers and
transactions, so transactions are never used (the outbox and the inbox give effectively-once
instead) and the idempotent producer is a setting, on in production. Every client is built
here, so each one gets the same brokers and transport security.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata

from shared.contracts.topics import BY_NAME
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


class MessageTooLarge(ValueError):
    pass


#: Key -> partition, the Java client's murmur2: every producer of ours places a key alike.
PARTITIONER = DefaultPartitioner()


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """The brokers and how to reach them: what every aiokafka client of ours is given.

    The TLS context is built afresh for each client, so a renewed certificate on disk is
    used by the next connection a client makes after a restart or a reset.
    """
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers,
                               "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol != "PLAINTEXT":
        # check_hostname is always on: the broker must present a certificate for its name.
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile or None,
            certfile=settings.kafka_ssl_certfile or None,
            keyfile=settings.kafka_ssl_keyfile or None)
    if settings.kafka_security_protocol == "SASL_SSL":
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password.get_secret_value())
    return options


def new_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas (not started)."""
    return AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        max_request_size=settings.kafka_max_message_bytes + 64 * 1024,
        request_timeout_ms=10_000,
        linger_ms=1,
        partitioner=PARTITIONER,
    )


def new_consumer(settings: ServiceSettings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer of `topics` with the caller's `options` (not started); the broker holds
    its empty fetches for `kafka_fetch_max_wait_ms`."""
    options.setdefault("fetch_max_wait_ms", settings.kafka_fetch_max_wait_ms)
    return AIOKafkaConsumer(*topics, **client_options(settings), **options)


def new_admin(settings: ServiceSettings) -> AIOKafkaAdminClient:
    """An admin client (not started)."""
    return AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10_000)


@dataclass(frozen=True)
class Outgoing:
    """One message for `Producer.send_all`."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Placed:
    """Where `send_all` put a message: its batch, acknowledged as a whole, and its place in it."""

    batch: asyncio.Future[RecordMetadata]
    position: int

    def where(self) -> tuple[int, int]:
        """(partition, offset) once the batch is acknowledged; raises what failed it."""
        metadata = self.batch.result()
        return metadata.partition, metadata.offset + self.position


class Producer:
    """A shared AIOKafkaProducer that starts on first use and survives a broker outage.

    The service starts without a broker; sends fail until it is reachable, and the outbox
    relay retries them.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> ServiceSettings:
        return self._settings

    async def get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = new_producer(self._settings)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> asyncio.Future[object]:
        """Enqueue a message; the returned future resolves when the broker acknowledged it."""
        if len(value) > self._settings.kafka_max_message_bytes:
            raise MessageTooLarge(f"{len(value)} bytes > {self._settings.kafka_max_message_bytes}")
        producer = await self.get()
        fut: asyncio.Future[object] = await producer.send(
            topic, value=value, key=key, headers=headers
        )
        return fut

    async def send_all(self, messages: Sequence[Outgoing]) -> list[Placed]:
        """Enqueue messages in order, as one record batch per partition where they fit.

        For the outbox relay: per message, `send` costs a future, a metadata wait and a
        trip through the accumulator, which made publishing cost more CPU than taking the
        signal in. Each key goes to the partition `send` would choose, and a partition's
        messages keep their order (aiokafka sends a partition's batches one after another).
        """
        producer = await self.get()
        partitions: dict[str, tuple[list[int], list[int]]] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        submitted: dict[int, asyncio.Future[RecordMetadata]] = {}
        places: list[tuple[Any, int]] = []

        async def submit(topic: str, partition: int, batch: Any) -> None:
            batch.close()  # or `send` could add messages of its own to it
            submitted[id(batch)] = await producer.send_batch(batch, topic, partition=partition)

        for m in messages:
            if len(m.value) > self._settings.kafka_max_message_bytes:
                raise MessageTooLarge(
                    f"{len(m.value)} bytes > {self._settings.kafka_max_message_bytes}")
            known = partitions.get(m.topic)
            if known is None:
                every = sorted(await producer.partitions_for(m.topic))
                available = list(
                    producer.client.cluster.available_partitions_for_topic(m.topic) or ())
                known = partitions[m.topic] = (every, available)
            tp = (m.topic, PARTITIONER(m.key, *known))
            batch = open_batches.get(tp)
            if batch is None or batch.append(
                    timestamp=None, key=m.key, value=m.value, headers=m.headers) is None:
                if batch is not None:  # full: it goes, a new one takes this message
                    await submit(*tp, batch)
                batch = open_batches[tp] = producer.create_batch()
                if batch.append(timestamp=None, key=m.key, value=m.value,
                                headers=m.headers) is None:
                    raise MessageTooLarge(f"{len(m.value)} bytes do not fit a record batch")
            places.append((batch, batch.record_count() - 1))
        for tp, batch in open_batches.items():
            await submit(*tp, batch)
        return [Placed(submitted[id(batch)], position) for batch, position in places]

    async def reset(self) -> None:
        """Drop the client after a failure; the next use connects afresh."""
        async with self._lock:
            if self._producer is not None:
                try:
                    await self._producer.stop()
                except KafkaError:
                    log.debug("producer stop failed", exc_info=True)
                self._producer = None

    async def close(self) -> None:
        await self.reset()

    async def ping(self, timeout_s: float = 2.0) -> bool:
        """Is the broker reachable right now (metadata round trip)?"""
        try:
            producer = await asyncio.wait_for(self.get(), timeout_s)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)
        except (KafkaError, OSError, TimeoutError):
            return False
        return True


def _new_topic(settings: ServiceSettings, topic: str) -> NewTopic:
    """A topic of the contracts gets the shape they give it; any other the configured one."""
    contract = BY_NAME.get(topic)
    partitions, configs = settings.kafka_topic_partitions, {}
    if contract is not None:
        partitions = contract.partitions or partitions
        configs = dict(contract.configs)
    return NewTopic(topic, partitions, settings.kafka_replication_factor, topic_configs=configs)


async def ensure_topics(settings: ServiceSettings, topics: Iterable[str]) -> None:
    """Create topics explicitly with the configured partition count (never auto-create)."""
    admin = new_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [_new_topic(settings, t) for t in topics if t not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another service created it first
    finally:
        await admin.close()
