"""One poison message among 1,000: exactly one dead letter with full error headers, 999 applied.

The poison sits in the middle of a key's stream, so the batch it arrives in takes the careful
path (one by one) and everything around it must still be applied exactly once.
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from shared.events import CloudEvent
from shared.tests.conftest import applied, read_topic, running
from shared.tests.testapp import NoteRecorded, note_type
from tests.helpers import eventually

TOTAL = 1000
POISON_AT = 517


@pytest.mark.parametrize("poison", ["undecodable", "wrong-schema"])
async def test_one_poison_among_a_thousand(testsvc_settings, broker, auth, poison):
    settings = testsvc_settings()
    etype = note_type(settings.topic).type
    async with running(settings) as client:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for i in range(TOTAL):
                key = f"BU0363{i % 7:04d}".encode()
                if i == POISON_AT and poison == "undecodable":
                    await producer.send(settings.topic, b"\x00\xffnot json", key=key,
                                        headers=[("ce_id", b"poison")])
                    continue
                good = NoteRecorded(note_id=uuid.uuid4(), area=key.decode(), count=1)
                event = CloudEvent.new("urn:test:poison", etype, good)
                if i == POISON_AT:  # valid JSON, wrong schema: count must be an integer
                    event = CloudEvent(event.id, event.source, etype, event.time,
                                       {**event.data, "count": "many"})
                await producer.send(settings.topic, event.value(), key=key,
                                    headers=event.headers())
            await producer.flush()
        finally:
            await producer.stop()

        async def all_good_applied() -> bool:
            return await applied(client, auth) >= TOTAL - 1

        await eventually(all_good_applied, timeout_s=90)
        dead = await read_topic(broker.bootstrap_servers, settings.topic + ".dlq", 2,
                                timeout_s=5)
        assert len(dead) == 1
        headers = dict(dead[0].headers)
        assert dead[0].key == f"BU0363{POISON_AT % 7:04d}".encode()  # the original key
        assert headers["dlq_original_topic"] == settings.topic.encode()
        assert headers["dlq_consumer_group"].startswith(b"testsvc-")
        assert {"dlq_original_partition", "dlq_original_offset", "dlq_exception_type",
                "dlq_exception_message"} <= headers.keys()
        assert await applied(client, auth) == TOTAL - 1  # none twice
