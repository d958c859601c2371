"""The producer's batched send against the real broker: placement, order and offsets."""

import asyncio
import uuid
from typing import Any

from shared.kafka import PARTITIONER, Outgoing, Producer, ensure_topics
from shared.settings import ServiceSettings
from shared.tests.conftest import read_topic
from tools.broker import EmbeddedBroker

KEYS = [f"BU0363{n:04d}".encode() for n in range(6)]


async def test_send_all_places_keys_as_send_does_in_order_and_at_the_offsets_it_reports(
        broker: EmbeddedBroker) -> None:
    settings = ServiceSettings(kafka_bootstrap_servers=broker.bootstrap_servers,
                               kafka_topic_partitions=3)
    topic = f"test-{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(settings, [topic])
    producer = Producer(settings)
    try:
        # One message per key through the ordinary send: where aiokafka itself puts each key.
        reference: list[Any] = await asyncio.gather(*[
            await producer.send(topic, b"{}", key, []) for key in KEYS])
        # 1 KiB values: a partition's share overflows one 16 KiB record batch several times.
        sent = [Outgoing(topic, KEYS[i % len(KEYS)], f'{{"n": {i}, "pad": "{"x" * 1000}"}}'
                         .encode(), [("ce_id", str(i).encode())]) for i in range(240)]
        placed = await producer.send_all(sent)
        await asyncio.wait({p.batch for p in placed})
        assert len({id(p.batch) for p in placed}) > 3  # more than one batch per partition
        reported = [p.where() for p in placed]
    finally:
        await producer.close()

    messages = await read_topic(broker.bootstrap_servers, topic, len(KEYS) + len(sent))
    by_id = {m.headers[0][1].decode(): m for m in messages if m.headers}
    assert len(by_id) == len(sent)
    partitions = [0, 1, 2]
    for key, ref in zip(KEYS, reference, strict=True):
        assert ref.partition == PARTITIONER(key, partitions, partitions)
    for i, (message, (partition, offset)) in enumerate(zip(sent, reported, strict=True)):
        stored = by_id[str(i)]
        assert (stored.partition, stored.offset) == (partition, offset)
        assert stored.key == message.key and stored.value == message.value
        assert stored.partition == reference[i % len(KEYS)].partition
    # Per key, the broker holds the messages in the order they were given.
    for key in KEYS:
        ordered = sorted((m for m in by_id.values() if m.key == key), key=lambda m: m.offset)
        assert [int(m.headers[0][1]) for m in ordered] == \
            [i for i, m in enumerate(sent) if m.key == key]


async def test_the_checkpoint_topic_is_created_with_one_partition(
        broker: EmbeddedBroker) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from tools.registry import all_topics

    settings = ServiceSettings(kafka_bootstrap_servers=broker.bootstrap_servers,
                               kafka_topic_partitions=3)
    assert "access-log-checkpoints.v1" in all_topics()
    assert "access-log-checkpoints.v1.dlq" not in all_topics()
    await ensure_topics(settings, ["access-log-checkpoints.v1"])
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(["access-log-checkpoints.v1"])
    finally:
        await admin.close()
    assert len(described[0]["partitions"]) == 1
